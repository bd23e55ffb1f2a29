using FastPrefix.Kernels.KernelCompiler;

namespace FastPrefix.Kernels.Device;

/// <summary>
/// What both devices share, so that they refuse and check the same things: argument checks, launch limits,
/// kernel arguments against kernel parameters, the capture rules, the kernel lookup cache. Subclasses only
/// carry out operations that passed.
/// </summary>
public abstract class GpuDeviceBase : IGpuDevice
{
    /// <summary>Threads per block, block and grid limits of every CUDA GPU since compute capability 3.0.</summary>
    public const int MaxThreadsPerBlock = 1024;

    private readonly Dictionary<string, GpuKernel> _kernels = new(StringComparer.Ordinal);
    private bool _disposed;

    protected GpuDeviceBase(KernelSet kernels) => Kernels = kernels;

    public abstract DeviceInfo Info { get; }
    public KernelSet Kernels { get; }
    public bool IsCapturing { get; private set; }

    public DeviceBuffer Allocate(long bytes)
    {
        ThrowIfUnusable(nameof(Allocate));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        return AllocateCore(bytes);
    }

    public PinnedBuffer AllocatePinned(long bytes)
    {
        ThrowIfUnusable(nameof(AllocatePinned));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        return AllocatePinnedCore(bytes);
    }

    public (long Free, long Total) GetMemoryInfo()
    {
        ThrowIfDisposed();
        return GetMemoryInfoCore();
    }

    public unsafe void Upload<T>(ReadOnlySpan<T> source, DevicePtr destination) where T : unmanaged
    {
        ThrowIfUnusable(nameof(Upload));
        if (source.IsEmpty) return;
        RequirePointer(destination, "destination");
        fixed (T* p = source) UploadCore((nint)p, destination, (long)source.Length * sizeof(T));
    }

    public unsafe void Download<T>(DevicePtr source, Span<T> destination) where T : unmanaged
    {
        ThrowIfUnusable(nameof(Download));
        if (destination.IsEmpty) return;
        RequirePointer(source, "source");
        fixed (T* p = destination) DownloadCore(source, (nint)p, (long)destination.Length * sizeof(T));
    }

    public void UploadAsync(PinnedBuffer source, long sourceOffset, DevicePtr destination, long bytes)
    {
        ThrowIfDisposed();
        CheckPinnedRange(source, sourceOffset, bytes);
        if (bytes == 0) return;
        RequirePointer(destination, "destination");
        UploadAsyncCore(source, sourceOffset, destination, bytes);
    }

    public void DownloadAsync(DevicePtr source, PinnedBuffer destination, long destinationOffset, long bytes)
    {
        ThrowIfDisposed();
        CheckPinnedRange(destination, destinationOffset, bytes);
        if (bytes == 0) return;
        RequirePointer(source, "source");
        DownloadAsyncCore(source, destination, destinationOffset, bytes);
    }

    public void Copy(DevicePtr destination, DevicePtr source, long bytes)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (bytes == 0) return;
        RequirePointer(destination, "destination");
        RequirePointer(source, "source");
        CopyCore(destination, source, bytes);
    }

    public void Memset8(DevicePtr destination, byte value, long count) => Memset(destination, value, count, 1);
    public void Memset16(DevicePtr destination, ushort value, long count) => Memset(destination, value, count, 2);
    public void Memset32(DevicePtr destination, uint value, long count) => Memset(destination, value, count, 4);

    private void Memset(DevicePtr destination, uint value, long count, int elementSize)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count == 0) return;
        RequirePointer(destination, "destination");
        if (destination.Address % (ulong)elementSize != 0)
            throw new ArgumentException($"Memset{elementSize * 8} needs a {elementSize}-byte aligned destination, not {destination}");
        MemsetCore(destination, value, count, elementSize);
    }

    public GpuKernel Kernel(string name)
    {
        ThrowIfDisposed();
        if (_kernels.TryGetValue(name, out var kernel)) return kernel;
        var file = Kernels.FileOf(name)
            ?? throw new ArgumentException($"no kernel named '{name}' in {string.Join(", ", Kernels.Files.Select(f => f.Name))}", nameof(name));
        if (IsCapturing)
            throw new InvalidOperationException($"kernel {name} ({file}) is used for the first time during graph capture: " +
                                                "loading it is not allowed then; run the work once (or call Kernel) before capturing");
        kernel = ResolveKernel(name, file);
        _kernels[name] = kernel;
        return kernel;
    }

    public void Launch(GpuKernel kernel, LaunchShape shape, in KernelArgs args)
    {
        ThrowIfDisposed();
        CheckShape(kernel, shape);
        CheckArguments(kernel, args);
        LaunchCore(kernel, shape, args);
    }

    public void Gemm(in GemmSpec spec)
    {
        ThrowIfDisposed();
        spec.Validate();
        GemmCore(spec);
    }

    public void Synchronize()
    {
        ThrowIfUnusable(nameof(Synchronize));
        SynchronizeCore();
    }

    public GpuEvent CreateEvent()
    {
        ThrowIfUnusable(nameof(CreateEvent));
        return CreateEventCore();
    }

    public void Record(GpuEvent gpuEvent)
    {
        ThrowIfUnusable(nameof(Record));
        RecordCore(gpuEvent);
    }

    public float ElapsedMilliseconds(GpuEvent start, GpuEvent end)
    {
        ThrowIfUnusable(nameof(ElapsedMilliseconds));
        return ElapsedMillisecondsCore(start, end);
    }

    public GpuGraph Capture(Action work)
    {
        ThrowIfUnusable(nameof(Capture));
        BeginCaptureCore();
        IsCapturing = true;
        try
        {
            work();
        }
        catch
        {
            IsCapturing = false;
            AbortCaptureCore();
            throw;
        }
        IsCapturing = false;
        return EndCaptureCore();
    }

    public void LaunchGraph(GpuGraph graph)
    {
        ThrowIfDisposed();
        LaunchGraphCore(graph);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        DisposeCore();
        GC.SuppressFinalize(this);
    }

    protected abstract DeviceBuffer AllocateCore(long bytes);
    protected abstract PinnedBuffer AllocatePinnedCore(long bytes);
    protected abstract (long Free, long Total) GetMemoryInfoCore();
    protected abstract void UploadCore(nint source, DevicePtr destination, long bytes);
    protected abstract void DownloadCore(DevicePtr source, nint destination, long bytes);
    protected abstract void UploadAsyncCore(PinnedBuffer source, long sourceOffset, DevicePtr destination, long bytes);
    protected abstract void DownloadAsyncCore(DevicePtr source, PinnedBuffer destination, long destinationOffset, long bytes);
    protected abstract void CopyCore(DevicePtr destination, DevicePtr source, long bytes);
    protected abstract void MemsetCore(DevicePtr destination, uint value, long count, int elementSize);
    protected abstract GpuKernel ResolveKernel(string name, string file);
    protected abstract void LaunchCore(GpuKernel kernel, LaunchShape shape, in KernelArgs args);
    protected abstract void GemmCore(in GemmSpec spec);
    protected abstract void SynchronizeCore();
    protected abstract GpuEvent CreateEventCore();
    protected abstract void RecordCore(GpuEvent gpuEvent);
    protected abstract float ElapsedMillisecondsCore(GpuEvent start, GpuEvent end);
    protected abstract void BeginCaptureCore();
    protected abstract GpuGraph EndCaptureCore();
    protected abstract void AbortCaptureCore();
    protected abstract void LaunchGraphCore(GpuGraph graph);
    protected abstract void DisposeCore();

    protected void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>Operations that wait for the stream, allocate or create objects cannot be part of a graph.</summary>
    private void ThrowIfUnusable(string operation)
    {
        ThrowIfDisposed();
        if (IsCapturing)
            throw new InvalidOperationException($"{operation} is not allowed during graph capture: only operations in stream order " +
                                                "(kernels, GEMMs, Copy, Memset, UploadAsync, DownloadAsync, LaunchGraph) can be captured");
    }

    private static void RequirePointer(DevicePtr pointer, string name)
    {
        if (pointer.IsNull) throw new ArgumentException($"{name} is a null device pointer", name);
    }

    private static void CheckPinnedRange(PinnedBuffer buffer, long offset, long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (offset + bytes > buffer.Bytes)
            throw new ArgumentOutOfRangeException(nameof(bytes), $"bytes {offset}..{offset + bytes} are outside the {buffer.Bytes}-byte pinned buffer");
    }

    private void CheckShape(GpuKernel kernel, LaunchShape shape)
    {
        var (grid, block) = (shape.Grid, shape.Block);
        string problem =
            grid.Count == 0 || block.Count == 0 ? "a grid or block dimension is 0" :
            block.Count > MaxThreadsPerBlock ? $"{block.Count} threads per block (at most {MaxThreadsPerBlock})" :
            block.Z > 64 ? "block z is above 64" :
            grid.X > int.MaxValue || grid.Y > 65535 || grid.Z > 65535 ? "grid is above (2^31-1, 65535, 65535)" :
            shape.SharedBytes < 0 || shape.SharedBytes > Info.MaxSharedBytesPerBlock ? $"{shape.SharedBytes} bytes of dynamic shared memory (at most {Info.MaxSharedBytesPerBlock})" :
            "";
        if (problem.Length > 0) throw new ArgumentException($"kernel {kernel.Name} cannot be launched with {shape}: {problem}");
    }

    private static void CheckArguments(GpuKernel kernel, in KernelArgs args)
    {
        if (kernel.ParameterSizes is not { } sizes) return;
        bool same = sizes.Count == args.Count;
        for (int i = 0; same && i < sizes.Count; i++) same = sizes[i] == args.SizeOf(i);
        if (!same)
            throw new ArgumentException($"kernel {kernel.Name} takes {sizes.Count} parameters of {string.Join(", ", sizes)} bytes; " +
                                        $"the launcher passed {args.Count} of {args.DescribeSizes()} bytes");
    }
}
