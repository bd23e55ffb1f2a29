namespace FastPrefix.Kernels.Device;

/// <summary>Device memory owned by the caller; disposing frees it.</summary>
public abstract class DeviceBuffer : IDisposable
{
    protected DeviceBuffer(DevicePtr pointer, long bytes)
    {
        Pointer = pointer;
        Bytes = bytes;
    }

    public DevicePtr Pointer { get; }
    public long Bytes { get; }

    /// <summary>Element <paramref name="index"/> of the buffer seen as an array of <typeparamref name="T"/>.</summary>
    public DevicePtr Element<T>(long index) where T : unmanaged => Pointer.Element<T>(index);

    public abstract void Dispose();

    public override string ToString() => $"{Bytes} bytes at {Pointer}";
}

/// <summary>
/// Page-locked host memory: the source or destination of copies that run in stream order and can be part of
/// a captured graph (the graph reads or writes it when it runs, not when it is captured).
/// </summary>
public abstract unsafe class PinnedBuffer : IDisposable
{
    protected PinnedBuffer(nint address, long bytes)
    {
        Address = address;
        Bytes = bytes;
    }

    public nint Address { get; }
    public long Bytes { get; }

    /// <summary>The buffer as <typeparamref name="T"/> elements (the whole buffer must fit an int count).</summary>
    public Span<T> AsSpan<T>() where T : unmanaged => new((void*)Address, checked((int)(Bytes / sizeof(T))));

    public abstract void Dispose();
}

/// <summary>A point in the device's stream; two of them time what ran between them.</summary>
public abstract class GpuEvent : IDisposable
{
    public abstract void Dispose();
}

/// <summary>A captured sequence of device work, launched again and again with <see cref="IGpuDevice.LaunchGraph"/>.</summary>
public abstract class GpuGraph : IDisposable
{
    /// <summary>How many operations (kernels, copies, memsets, GEMM parts) the graph holds.</summary>
    public abstract int NodeCount { get; }

    public abstract void Dispose();
}

/// <summary>A kernel found by name, ready to launch.</summary>
public abstract class GpuKernel
{
    protected GpuKernel(string name, IReadOnlyList<int>? parameterSizes)
    {
        Name = name;
        ParameterSizes = parameterSizes;
    }

    /// <summary>The kernel's <c>extern "C"</c> name.</summary>
    public string Name { get; }

    /// <summary>Sizes of the kernel's parameters in bytes, when the device can tell (the simulator always; CUDA 12.4+ drivers).</summary>
    public IReadOnlyList<int>? ParameterSizes { get; }

    public override string ToString() => Name;
}
