using System.Text;
using FastPrefix.Kernels.Interop;
using FastPrefix.Kernels.KernelCompiler;

namespace FastPrefix.Kernels.Device;

/// <summary>
/// A GPU through the CUDA driver API: its primary context, one non-blocking stream that every operation is
/// ordered on, cuBLAS on that stream with a workspace of its own (so GEMMs can be captured into graphs), and
/// kernels compiled by NVRTC per kernel file on first use (cached on disk). Every native object is owned by a
/// SafeHandle, so nothing leaks when a device is dropped without Dispose.
/// </summary>
public sealed partial class CudaDevice : GpuDeviceBase
{
    private readonly PrimaryContextHandle _context;
    private readonly StreamHandle _stream = null!;
    private readonly CublasHandle _cublas = null!;
    private readonly DeviceBuffer _cublasWorkspace = null!;
    private readonly KernelCache _cache;

    private CudaDevice(int ordinal, KernelSet kernels, KernelCache cache) : base(kernels)
    {
        _cache = cache;
        CudaException.ThrowIfFailed(LibCuda.cuDeviceGet(out var device, ordinal));
        _context = new PrimaryContextHandle(device);
        try
        {
            EnsureCurrent();
            CudaException.ThrowIfFailed(LibCuda.cuStreamCreate(out var stream, LibCuda.StreamNonBlocking));
            _stream = new StreamHandle(_context);
            _stream.Own(stream);
            Info = ReadInfo(device);

            CudaException.ThrowIfFailed(LibCublas.cublasCreate(out var cublas));
            _cublas = new CublasHandle(_context);
            _cublas.Own(cublas);
            CudaException.ThrowIfFailed(LibCublas.cublasSetStream(Cublas, Stream));
            // After the stream (setting the stream resets the workspace). A workspace of our own keeps cuBLAS from
            // allocating during graph capture; 32 MiB is NVIDIA's advice for Hopper, 4 MiB for older GPUs.
            _cublasWorkspace = Allocate(Info.ComputeCapability.Major >= 9 ? 32 << 20 : 4 << 20);
            CudaException.ThrowIfFailed(LibCublas.cublasSetWorkspace(Cublas, _cublasWorkspace.Pointer.Address, (nuint)_cublasWorkspace.Bytes));
            // Default math: no TF32 for fp32 GEMMs (GemmCore also asks for pedantic fp32 compute).
            CudaException.ThrowIfFailed(LibCublas.cublasSetMathMode(Cublas, CublasMath.Default));
        }
        catch
        {
            DisposeCore();
            throw;
        }
    }

    /// <summary>
    /// Opens GPU <paramref name="ordinal"/>. Throws <see cref="CudaUnavailableException"/> with the probe's reason
    /// when CUDA cannot be used here.
    /// </summary>
    public static CudaDevice Open(int ordinal = 0, KernelSet? kernels = null, KernelCache? cache = null)
    {
        var availability = CudaProbe.Probe();
        if (!availability.IsAvailable) throw new CudaUnavailableException(availability.Reason);
        if (ordinal < 0 || ordinal >= availability.DeviceCount)
            throw new ArgumentOutOfRangeException(nameof(ordinal), $"CUDA device {ordinal} does not exist ({availability.DeviceCount} found)");
        return new CudaDevice(ordinal, kernels ?? KernelSet.Builtin, cache ?? new KernelCache());
    }

    public override DeviceInfo Info { get; } = null!;

    private nint Stream => _stream.DangerousGetHandle();
    private nint Cublas => _cublas.DangerousGetHandle();

    /// <summary>Makes this device's context current on the calling thread (a thread-local read when it already is).</summary>
    private void EnsureCurrent()
    {
        var context = _context.DangerousGetHandle();
        if (LibCuda.cuCtxGetCurrent(out var current) == CuResult.Success && current == context) return;
        CudaException.ThrowIfFailed(LibCuda.cuCtxSetCurrent(context));
    }

    private static unsafe DeviceInfo ReadInfo(int device)
    {
        var name = stackalloc byte[256];
        CudaException.ThrowIfFailed(LibCuda.cuDeviceGetName(name, 256, device));
        int Attribute(CuDeviceAttribute attribute)
        {
            CudaException.ThrowIfFailed(LibCuda.cuDeviceGetAttribute(out var value, attribute, device));
            return value;
        }
        CudaException.ThrowIfFailed(LibCuda.cuDeviceTotalMem(out var total, device));
        LibCuda.cuDriverGetVersion(out var driver);
        var detail = new StringBuilder($"driver CUDA {CudaAvailability.FormatVersion(driver)}");
        detail.Append($", {NativeLibraries.LoadedFrom(CudaLibrary.Cublas)}");
        if (NvrtcCompiler.IsAvailable(out _)) detail.Append($", NVRTC {NvrtcCompiler.Version.Major}.{NvrtcCompiler.Version.Minor}");
        return new DeviceInfo(DeviceKind.Cuda, new string((sbyte*)name),
            (Attribute(CuDeviceAttribute.ComputeCapabilityMajor), Attribute(CuDeviceAttribute.ComputeCapabilityMinor)),
            (long)total, Attribute(CuDeviceAttribute.MultiprocessorCount), Attribute(CuDeviceAttribute.MaxSharedMemoryPerBlockOptin),
            detail.ToString());
    }

    // ---- memory ----
    protected override DeviceBuffer AllocateCore(long bytes)
    {
        EnsureCurrent();
        var result = LibCuda.cuMemAlloc(out var pointer, (nuint)bytes);
        if (result == CuResult.OutOfMemory)
        {
            var (free, total) = GetMemoryInfoCore();
            throw new DeviceOutOfMemoryException(Info.Name, bytes, free, total);
        }
        CudaException.ThrowIfFailed(result);
        var handle = new DeviceMemoryHandle(_context);
        handle.Own((nint)pointer);
        return new CudaBuffer(handle, bytes);
    }

    protected override PinnedBuffer AllocatePinnedCore(long bytes)
    {
        EnsureCurrent();
        CudaException.ThrowIfFailed(LibCuda.cuMemHostAlloc(out var pointer, (nuint)bytes, 0));
        var handle = new PinnedMemoryHandle(_context);
        handle.Own(pointer);
        return new CudaPinnedBuffer(handle, bytes);
    }

    protected override (long Free, long Total) GetMemoryInfoCore()
    {
        EnsureCurrent();
        CudaException.ThrowIfFailed(LibCuda.cuMemGetInfo(out var free, out var total));
        return ((long)free, (long)total);
    }

    // Synchronous copies also wait for the stream: the host memory may be pinned, and then the copy would
    // otherwise still read it after we return.
    protected override unsafe void UploadCore(nint source, DevicePtr destination, long bytes)
    {
        EnsureCurrent();
        CudaException.ThrowIfFailed(LibCuda.cuMemcpyHtoDAsync(destination.Address, (void*)source, (nuint)bytes, Stream));
        CudaException.ThrowIfFailed(LibCuda.cuStreamSynchronize(Stream));
    }

    protected override unsafe void DownloadCore(DevicePtr source, nint destination, long bytes)
    {
        EnsureCurrent();
        CudaException.ThrowIfFailed(LibCuda.cuMemcpyDtoHAsync((void*)destination, source.Address, (nuint)bytes, Stream));
        CudaException.ThrowIfFailed(LibCuda.cuStreamSynchronize(Stream));
    }

    protected override unsafe void UploadAsyncCore(PinnedBuffer source, long sourceOffset, DevicePtr destination, long bytes)
    {
        EnsureCurrent();
        CudaException.ThrowIfFailed(LibCuda.cuMemcpyHtoDAsync(destination.Address, (void*)(source.Address + (nint)sourceOffset), (nuint)bytes, Stream));
    }

    protected override unsafe void DownloadAsyncCore(DevicePtr source, PinnedBuffer destination, long destinationOffset, long bytes)
    {
        EnsureCurrent();
        CudaException.ThrowIfFailed(LibCuda.cuMemcpyDtoHAsync((void*)(destination.Address + (nint)destinationOffset), source.Address, (nuint)bytes, Stream));
    }

    protected override void CopyCore(DevicePtr destination, DevicePtr source, long bytes)
    {
        EnsureCurrent();
        CudaException.ThrowIfFailed(LibCuda.cuMemcpyDtoDAsync(destination.Address, source.Address, (nuint)bytes, Stream));
    }

    protected override void MemsetCore(DevicePtr destination, uint value, long count, int elementSize)
    {
        EnsureCurrent();
        CudaException.ThrowIfFailed(elementSize switch
        {
            1 => LibCuda.cuMemsetD8Async(destination.Address, (byte)value, (nuint)count, Stream),
            2 => LibCuda.cuMemsetD16Async(destination.Address, (ushort)value, (nuint)count, Stream),
            _ => LibCuda.cuMemsetD32Async(destination.Address, value, (nuint)count, Stream),
        });
    }

    // ---- stream and events ----
    protected override void SynchronizeCore()
    {
        EnsureCurrent();
        CudaException.ThrowIfFailed(LibCuda.cuStreamSynchronize(Stream));
    }

    protected override GpuEvent CreateEventCore()
    {
        EnsureCurrent();
        CudaException.ThrowIfFailed(LibCuda.cuEventCreate(out var evt, LibCuda.EventDefault));
        var handle = new EventHandle(_context);
        handle.Own(evt);
        return new CudaEvent(handle);
    }

    protected override void RecordCore(GpuEvent gpuEvent)
    {
        EnsureCurrent();
        CudaException.ThrowIfFailed(LibCuda.cuEventRecord(((CudaEvent)gpuEvent).Handle.DangerousGetHandle(), Stream));
    }

    protected override float ElapsedMillisecondsCore(GpuEvent start, GpuEvent end)
    {
        EnsureCurrent();
        var endHandle = ((CudaEvent)end).Handle.DangerousGetHandle();
        CudaException.ThrowIfFailed(LibCuda.cuEventSynchronize(endHandle));
        CudaException.ThrowIfFailed(LibCuda.cuEventElapsedTime(out var milliseconds, ((CudaEvent)start).Handle.DangerousGetHandle(), endHandle));
        return milliseconds;
    }

    protected override void DisposeCore()
    {
        foreach (var module in _modules.Values) module.Dispose();
        _cublas?.Dispose();
        _cublasWorkspace?.Dispose();
        _stream?.Dispose();
        _context.Dispose();
    }

    private sealed class CudaBuffer(DeviceMemoryHandle handle, long bytes) : DeviceBuffer(new DevicePtr((ulong)handle.DangerousGetHandle()), bytes)
    {
        public override void Dispose() => handle.Dispose();
    }

    private sealed class CudaPinnedBuffer(PinnedMemoryHandle handle, long bytes) : PinnedBuffer(handle.DangerousGetHandle(), bytes)
    {
        public override void Dispose() => handle.Dispose();
    }

    private sealed class CudaEvent(EventHandle handle) : GpuEvent
    {
        public EventHandle Handle { get; } = handle;
        public override void Dispose() => Handle.Dispose();
    }
}

/// <summary>CUDA cannot be used on this machine; the message says why (the probe's reason).</summary>
public sealed class CudaUnavailableException(string reason) : Exception(reason);
