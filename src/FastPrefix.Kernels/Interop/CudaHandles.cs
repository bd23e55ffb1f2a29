using System.Runtime.InteropServices;

namespace FastPrefix.Kernels.Interop;

/// <summary>A retained primary context of one device; releasing it lets the driver tear the context down.</summary>
internal sealed class PrimaryContextHandle : SafeHandle
{
    public PrimaryContextHandle(int device) : base(0, true)
    {
        CudaException.ThrowIfFailed(LibCuda.cuDevicePrimaryCtxRetain(out var context, device));
        SetHandle(context);
        Device = device;
    }

    public int Device { get; }
    public override bool IsInvalid => handle == 0;
    protected override bool ReleaseHandle() => LibCuda.cuDevicePrimaryCtxRelease(Device) == CuResult.Success;
}

/// <summary>
/// A driver object that lives in a context. Releasing it pushes that context first (the finalizer thread has
/// none current) and keeps the context alive until every object in it is released.
/// </summary>
internal abstract class ContextBoundHandle : SafeHandle
{
    private readonly PrimaryContextHandle _context;
    private bool _contextReferenced;

    protected ContextBoundHandle(PrimaryContextHandle context) : base(0, true)
    {
        _context = context;
        context.DangerousAddRef(ref _contextReferenced);
    }

    public override bool IsInvalid => handle == 0;

    /// <summary>Takes ownership of a created native object.</summary>
    internal void Own(nint value) => SetHandle(value);

    protected sealed override bool ReleaseHandle()
    {
        bool pushed = LibCuda.cuCtxPushCurrent(_context.DangerousGetHandle()) == CuResult.Success;
        bool released = Free(handle);
        if (pushed) LibCuda.cuCtxPopCurrent(out _);
        if (_contextReferenced) _context.DangerousRelease();
        return released;
    }

    protected abstract bool Free(nint value);
}

internal sealed class StreamHandle(PrimaryContextHandle context) : ContextBoundHandle(context)
{
    protected override bool Free(nint value) => LibCuda.cuStreamDestroy(value) == CuResult.Success;
}

internal sealed class EventHandle(PrimaryContextHandle context) : ContextBoundHandle(context)
{
    protected override bool Free(nint value) => LibCuda.cuEventDestroy(value) == CuResult.Success;
}

internal sealed class KernelModuleHandle(PrimaryContextHandle context) : ContextBoundHandle(context)
{
    protected override bool Free(nint value) => LibCuda.cuModuleUnload(value) == CuResult.Success;
}

/// <summary>Device memory from cuMemAlloc; the handle value is the CUdeviceptr.</summary>
internal sealed class DeviceMemoryHandle(PrimaryContextHandle context) : ContextBoundHandle(context)
{
    protected override bool Free(nint value) => LibCuda.cuMemFree((ulong)value) == CuResult.Success;
}

/// <summary>Page-locked host memory from cuMemHostAlloc.</summary>
internal sealed class PinnedMemoryHandle(PrimaryContextHandle context) : ContextBoundHandle(context)
{
    protected override bool Free(nint value) => LibCuda.cuMemFreeHost(value) == CuResult.Success;
}

internal sealed class CublasHandle(PrimaryContextHandle context) : ContextBoundHandle(context)
{
    protected override bool Free(nint value) => LibCublas.cublasDestroy(value) == CublasStatus.Success;
}

/// <summary>A captured graph (CUgraph).</summary>
internal sealed class GraphHandle(PrimaryContextHandle context) : ContextBoundHandle(context)
{
    protected override bool Free(nint value) => LibCuda.cuGraphDestroy(value) == CuResult.Success;
}

/// <summary>An instantiated graph (CUgraphExec).</summary>
internal sealed class GraphExecHandle(PrimaryContextHandle context) : ContextBoundHandle(context)
{
    protected override bool Free(nint value) => LibCuda.cuGraphExecDestroy(value) == CuResult.Success;
}
