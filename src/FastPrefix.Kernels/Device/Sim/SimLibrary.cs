using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace FastPrefix.Kernels.Device;

/// <summary>
/// A built simulator library (see SimLibraryBuilder), loaded once per process per file: its kernel registry
/// (names and parameter sizes) and its launch entry point. Never unloaded: its worker threads live on.
/// </summary>
internal sealed unsafe class SimLibrary
{
    private const int AbiVersion = 1;
    private static readonly ConcurrentDictionary<string, Lazy<SimLibrary>> Loaded = new(StringComparer.Ordinal);

    private readonly delegate* unmanaged<int, uint*, uint, void**, int, byte*, int, int> _launch;
    private readonly delegate* unmanaged<long> _resumeCount;
    private readonly Dictionary<string, (int Index, int[] ParameterSizes)> _kernels = new(StringComparer.Ordinal);

    private SimLibrary(string path)
    {
        Path = path;
        var handle = NativeLibrary.Load(path);
        var abi = (delegate* unmanaged<int>)NativeLibrary.GetExport(handle, "fp_sim_abi_version");
        if (abi() != AbiVersion) throw new InvalidOperationException($"{path}: simulator ABI {abi()}, expected {AbiVersion}");
        var count = ((delegate* unmanaged<int>)NativeLibrary.GetExport(handle, "fp_sim_kernel_count"))();
        var name = (delegate* unmanaged<int, byte*>)NativeLibrary.GetExport(handle, "fp_sim_kernel_name");
        var parameters = (delegate* unmanaged<int, int**, int>)NativeLibrary.GetExport(handle, "fp_sim_kernel_param_sizes");
        for (int i = 0; i < count; i++)
        {
            int* sizes;
            int parameterCount = parameters(i, &sizes);
            _kernels[Marshal.PtrToStringUTF8((nint)name(i))!] = (i, new ReadOnlySpan<int>(sizes, parameterCount).ToArray());
        }
        _launch = (delegate* unmanaged<int, uint*, uint, void**, int, byte*, int, int>)NativeLibrary.GetExport(handle, "fp_sim_launch");
        _resumeCount = (delegate* unmanaged<long>)NativeLibrary.GetExport(handle, "fp_sim_resume_count");
    }

    public string Path { get; }

    /// <summary>Fiber resumes since the library was loaded (each is a switch into a fiber and one back).</summary>
    public long ResumeCount => _resumeCount();

    public static SimLibrary Load(string path) =>
        Loaded.GetOrAdd(path, p => new Lazy<SimLibrary>(() => new SimLibrary(p))).Value;

    public bool TryGetKernel(string name, out int index, out int[] parameterSizes)
    {
        var found = _kernels.TryGetValue(name, out var entry);
        (index, parameterSizes) = entry;
        return found;
    }

    /// <summary>Runs the kernel to completion on up to <paramref name="hostThreads"/> threads; throws <see cref="KernelLaunchException"/> on failure.</summary>
    public void Launch(int index, LaunchShape shape, void** args, int hostThreads)
    {
        uint* dims = stackalloc uint[6] { shape.Grid.X, shape.Grid.Y, shape.Grid.Z, shape.Block.X, shape.Block.Y, shape.Block.Z };
        const int capacity = 1024;
        byte* error = stackalloc byte[capacity];
        if (_launch(index, dims, (uint)shape.SharedBytes, args, hostThreads, error, capacity) != 0)
            throw new KernelLaunchException($"simulated device: {Marshal.PtrToStringUTF8((nint)error)}");
    }
}
