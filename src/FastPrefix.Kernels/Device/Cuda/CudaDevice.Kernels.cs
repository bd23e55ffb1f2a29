using FastPrefix.Kernels.Interop;
using FastPrefix.Kernels.KernelCompiler;

namespace FastPrefix.Kernels.Device;

public sealed partial class CudaDevice
{
    /// <summary>Dynamic shared memory a kernel may use without opting in (cuFuncSetAttribute).</summary>
    private const int DefaultSharedLimit = 48 * 1024;

    private readonly Dictionary<string, KernelModuleHandle> _modules = new(StringComparer.Ordinal);
    private NvrtcTarget? _target;

    /// <summary>What NVRTC compiles this device's kernels for (a CUBIN for its architecture when NVRTC knows it).</summary>
    public NvrtcTarget CompileTarget =>
        _target ??= NvrtcTarget.ForDevice(Info.ComputeCapability.Major, Info.ComputeCapability.Minor, NvrtcCompiler.SupportedArchitectures);

    protected override unsafe GpuKernel ResolveKernel(string name, string file)
    {
        EnsureCurrent();
        if (!_modules.TryGetValue(file, out var module))
        {
            var source = Kernels.Files.First(f => f.Name == file);
            var image = NvrtcCompiler.CompileCached(_cache, source, Kernels.Headers, CompileTarget, out _);
            nint loaded;
            fixed (byte* p = image) CudaException.ThrowIfFailed(LibCuda.cuModuleLoadData(out loaded, p));
            module = new KernelModuleHandle(_context);
            module.Own(loaded);
            _modules[file] = module;
        }
        CudaException.ThrowIfFailed(LibCuda.cuModuleGetFunction(out var function, module.DangerousGetHandle(), name));
        return new CudaKernel(this, name, function, ReadParameterSizes(function));
    }

    /// <summary>Parameter sizes from the driver (CUDA 12.4+), so launches are checked as on the simulator; null before.</summary>
    private static List<int>? ReadParameterSizes(nint function)
    {
        try
        {
            var sizes = new List<int>();
            while (LibCuda.cuFuncGetParamInfo(function, (nuint)sizes.Count, out _, out var size) == CuResult.Success) sizes.Add((int)size);
            return sizes;
        }
        catch (EntryPointNotFoundException)
        {
            return null;
        }
    }

    protected override unsafe void LaunchCore(GpuKernel kernel, LaunchShape shape, in KernelArgs args)
    {
        var cudaKernel = kernel as CudaKernel is { } k && k.Device == this
            ? k : throw new ArgumentException($"kernel {kernel.Name} belongs to another device", nameof(kernel));
        EnsureCurrent();
        if (shape.SharedBytes > Math.Max(DefaultSharedLimit, cudaKernel.SharedLimit))
        {
            CudaException.ThrowIfFailed(LibCuda.cuFuncSetAttribute(cudaKernel.Function, CuFunctionAttribute.MaxDynamicSharedSizeBytes, shape.SharedBytes));
            cudaKernel.SharedLimit = shape.SharedBytes;
        }
        var pointers = stackalloc void*[Math.Max(1, args.Count)];
        args.GetPointers(pointers);
        CudaException.ThrowIfFailed(LibCuda.cuLaunchKernel(cudaKernel.Function, shape.Grid.X, shape.Grid.Y, shape.Grid.Z,
            shape.Block.X, shape.Block.Y, shape.Block.Z, (uint)shape.SharedBytes, Stream, pointers, null));
    }

    private sealed class CudaKernel(CudaDevice device, string name, nint function, IReadOnlyList<int>? parameterSizes)
        : GpuKernel(name, parameterSizes)
    {
        public CudaDevice Device { get; } = device;
        public nint Function { get; } = function;
        public int SharedLimit { get; set; }
    }
}
