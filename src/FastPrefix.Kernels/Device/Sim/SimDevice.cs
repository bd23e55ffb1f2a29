using System.Diagnostics;
using System.Runtime.InteropServices;
using FastPrefix.Kernels.KernelCompiler;

namespace FastPrefix.Kernels.Device;

/// <summary>Settings of a <see cref="SimDevice"/>.</summary>
public sealed record SimDeviceOptions
{
    /// <summary>Host threads that run blocks; default FASTPREFIX_SIM_THREADS or the processor count.</summary>
    public int? HostThreads { get; init; }

    /// <summary>"Device memory" the simulator lets you allocate; default: the memory available to the process.</summary>
    public long? MemoryBytes { get; init; }

    /// <summary>Where the built kernel library is cached; default <see cref="KernelCache.DefaultDirectory"/>.</summary>
    public KernelCache? Cache { get; init; }

    /// <summary>Extra -D options for the simulator build (e.g. FP_SIM_UCONTEXT to compare fiber switches).</summary>
    public IReadOnlyList<string>? Defines { get; init; }
}

/// <summary>
/// The GPU simulated on the CPU: device memory is host memory, kernels are the same kernels/*.cu sources built by
/// the host C++ compiler against sim/cuda_sim.h (on first kernel use; cached), GEMMs are <see cref="SimGemm"/>,
/// and a captured graph is the list of operations, replayed in order. Everything runs when called (the stream
/// is the calling thread), except while capturing, when nothing runs — as on a GPU.
/// </summary>
public sealed unsafe partial class SimDevice : GpuDeviceBase
{
    /// <summary>Dynamic shared memory per block: 99 KiB, what every GPU from compute capability 8.6 grants
    /// (A100 and H100 allow more), so kernels that fit here fit everywhere FastPrefix targets.</summary>
    public const int MaxSharedBytes = 99 * 1024;

    private readonly Lazy<SimLibrary> _library;
    private readonly int _hostThreads;
    private readonly long _memoryLimit;
    private long _allocated;
    private List<Action>? _capture;

    public SimDevice(KernelSet? kernels = null, SimDeviceOptions? options = null) : base(kernels ?? KernelSet.Builtin)
    {
        options ??= new SimDeviceOptions();
        _hostThreads = options.HostThreads ?? DefaultHostThreads();
        if (_hostThreads < 1) throw new ArgumentOutOfRangeException(nameof(options), $"HostThreads {_hostThreads} must be at least 1");
        _memoryLimit = options.MemoryBytes ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        var cache = options.Cache ?? new KernelCache();
        var defines = options.Defines ?? [];
        _library = new Lazy<SimLibrary>(() => SimLibrary.Load(SimLibraryBuilder.Build(Kernels, cache, out _, defines)));
        Info = new DeviceInfo(DeviceKind.Simulated, $"simulated GPU ({_hostThreads} host threads)", (8, 0), _memoryLimit,
            _hostThreads, MaxSharedBytes, "kernels built by the host C++ compiler");
    }

    public override DeviceInfo Info { get; }

    /// <summary>Fiber resumes of the loaded simulator library so far (two context switches each); for measurements.</summary>
    public long FiberResumes => _library.Value.ResumeCount;

    private static int DefaultHostThreads() =>
        int.TryParse(Environment.GetEnvironmentVariable("FASTPREFIX_SIM_THREADS"), out var n) && n > 0 ? n : Environment.ProcessorCount;

    // ---- memory ----
    protected override DeviceBuffer AllocateCore(long bytes)
    {
        long free = _memoryLimit - Interlocked.Read(ref _allocated);
        if (bytes > free) throw new DeviceOutOfMemoryException(Info.Name, bytes, free, _memoryLimit);
        var pointer = NativeMemory.AlignedAlloc((nuint)bytes, 256);   // cudaMalloc aligns to 256 bytes too
        Interlocked.Add(ref _allocated, bytes);
        return new SimBuffer(this, (nint)pointer, bytes);
    }

    protected override PinnedBuffer AllocatePinnedCore(long bytes) => new SimPinnedBuffer((nint)NativeMemory.AlignedAlloc((nuint)bytes, 256), bytes);

    protected override (long Free, long Total) GetMemoryInfoCore() => (_memoryLimit - Interlocked.Read(ref _allocated), _memoryLimit);

    protected override void UploadCore(nint source, DevicePtr destination, long bytes) =>
        Buffer.MemoryCopy((void*)source, (void*)destination.Address, bytes, bytes);

    protected override void DownloadCore(DevicePtr source, nint destination, long bytes) =>
        Buffer.MemoryCopy((void*)source.Address, (void*)destination, bytes, bytes);

    protected override void UploadAsyncCore(PinnedBuffer source, long sourceOffset, DevicePtr destination, long bytes) =>
        Run(() => Buffer.MemoryCopy((void*)(source.Address + (nint)sourceOffset), (void*)destination.Address, bytes, bytes));

    protected override void DownloadAsyncCore(DevicePtr source, PinnedBuffer destination, long destinationOffset, long bytes) =>
        Run(() => Buffer.MemoryCopy((void*)source.Address, (void*)(destination.Address + (nint)destinationOffset), bytes, bytes));

    protected override void CopyCore(DevicePtr destination, DevicePtr source, long bytes) =>
        Run(() => Buffer.MemoryCopy((void*)source.Address, (void*)destination.Address, bytes, bytes));

    protected override void MemsetCore(DevicePtr destination, uint value, long count, int elementSize) => Run(() =>
    {
        for (long done = 0; done < count; done += int.MaxValue)
        {
            int part = (int)Math.Min(int.MaxValue, count - done);
            var start = (void*)(destination.Address + (ulong)(done * elementSize));
            switch (elementSize)
            {
                case 1: new Span<byte>(start, part).Fill((byte)value); break;
                case 2: new Span<ushort>(start, part).Fill((ushort)value); break;
                default: new Span<uint>(start, part).Fill(value); break;
            }
        }
    });

    internal void Release(long bytes) => Interlocked.Add(ref _allocated, -bytes);

    // ---- kernels and GEMMs ----
    protected override GpuKernel ResolveKernel(string name, string file)
    {
        if (!_library.Value.TryGetKernel(name, out var index, out var sizes))
            throw new InvalidOperationException($"kernel {name} ({file}) is missing from the simulator library {_library.Value.Path}");
        return new SimKernel(this, name, index, sizes);
    }

    protected override void LaunchCore(GpuKernel kernel, LaunchShape shape, in KernelArgs args)
    {
        var simKernel = kernel as SimKernel is { } k && k.Device == this
            ? k : throw new ArgumentException($"kernel {kernel.Name} belongs to another device", nameof(kernel));
        if (_capture is { } recording)
        {
            var values = args.CopyValues();   // kernel arguments are taken at launch (capture) time, as cuLaunchKernel does
            recording.Add(() => LaunchValues(simKernel, shape, values));
            return;
        }
        var pointers = stackalloc void*[Math.Max(1, args.Count)];
        args.GetPointers(pointers);
        _library.Value.Launch(simKernel.Index, shape, pointers, _hostThreads);
    }

    private void LaunchValues(SimKernel kernel, LaunchShape shape, ulong[] values)
    {
        var pointers = stackalloc void*[Math.Max(1, values.Length)];
        fixed (ulong* first = values)
        {
            for (int i = 0; i < values.Length; i++) pointers[i] = first + i;
            _library.Value.Launch(kernel.Index, shape, pointers, _hostThreads);
        }
    }

    protected override void GemmCore(in GemmSpec spec)
    {
        var copy = spec;
        Run(() => SimGemm.Run(copy));
    }

    // ---- stream, events, graphs ----
    protected override void SynchronizeCore() { }

    protected override GpuEvent CreateEventCore() => new SimEvent();

    protected override void RecordCore(GpuEvent gpuEvent) => ((SimEvent)gpuEvent).Timestamp = Stopwatch.GetTimestamp();

    protected override float ElapsedMillisecondsCore(GpuEvent start, GpuEvent end) =>
        (float)Stopwatch.GetElapsedTime(((SimEvent)start).Timestamp, ((SimEvent)end).Timestamp).TotalMilliseconds;

    protected override void BeginCaptureCore() => _capture = [];

    protected override GpuGraph EndCaptureCore()
    {
        var graph = new SimGraph(_capture!);
        _capture = null;
        return graph;
    }

    protected override void AbortCaptureCore() => _capture = null;

    protected override void LaunchGraphCore(GpuGraph graph)
    {
        var simGraph = graph as SimGraph ?? throw new ArgumentException("the graph was captured on another kind of device", nameof(graph));
        Run(simGraph.Replay);
    }

    protected override void DisposeCore() { }

    /// <summary>Runs an operation in stream order: now, or when the graph being captured is launched.</summary>
    private void Run(Action operation)
    {
        if (_capture is { } recording) recording.Add(operation);
        else operation();
    }

    private sealed class SimKernel(SimDevice device, string name, int index, int[] parameterSizes) : GpuKernel(name, parameterSizes)
    {
        public SimDevice Device { get; } = device;
        public int Index { get; } = index;
    }

    private sealed class SimEvent : GpuEvent
    {
        public long Timestamp;
        public override void Dispose() { }
    }

    private sealed class SimGraph(List<Action> operations) : GpuGraph
    {
        public override int NodeCount => operations.Count;

        public void Replay()
        {
            foreach (var operation in operations) operation();
        }

        public override void Dispose() => operations.Clear();
    }

    private sealed class SimBuffer(SimDevice device, nint address, long bytes) : DeviceBuffer(new DevicePtr((ulong)address), bytes)
    {
        private int _freed;

        ~SimBuffer() => Free();

        public override void Dispose()
        {
            Free();
            GC.SuppressFinalize(this);
        }

        private void Free()
        {
            if (Interlocked.Exchange(ref _freed, 1) != 0) return;
            NativeMemory.AlignedFree((void*)Pointer.Address);
            device.Release(Bytes);
        }
    }

    private sealed class SimPinnedBuffer(nint address, long bytes) : PinnedBuffer(address, bytes)
    {
        private int _freed;

        ~SimPinnedBuffer() => Free();

        public override void Dispose()
        {
            Free();
            GC.SuppressFinalize(this);
        }

        private void Free()
        {
            if (Interlocked.Exchange(ref _freed, 1) == 0) NativeMemory.AlignedFree((void*)Address);
        }
    }
}
