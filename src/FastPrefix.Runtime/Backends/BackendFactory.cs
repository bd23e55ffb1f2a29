using FastPrefix.Backends.Cpu;
using FastPrefix.Backends.Cuda;
using FastPrefix.Kernels.Device;
using FastPrefix.Kernels.KernelCompiler;

namespace FastPrefix.Backends;

/// <summary>Picks the backend for a --device value (auto | cpu | cuda | cuda-sim) and a --precision (fp32 | bf16).</summary>
public static class BackendFactory
{
    public static readonly IReadOnlyList<string> Devices = ["auto", "cpu", "cuda", "cuda-sim"];
    public static readonly IReadOnlyList<string> Precisions = ["fp32", "bf16"];

    /// <summary>As <see cref="Create(string, string?, Action{string}?)"/> with each device's default precision.</summary>
    public static IBackend Create(string device, Action<string>? notice = null) => Create(device, null, notice);

    /// <summary>
    /// Creates the backend. 'auto' uses CUDA when a device, its driver, cuBLAS and NVRTC are all present, else the CPU,
    /// and says which through <paramref name="notice"/> (once). 'cuda' without them, a 'cuda-sim' without a host C++
    /// compiler, and bf16 on the CPU fail with an ArgumentException whose message starts with the option.
    /// <paramref name="precision"/>: null for the default, bf16 on a GPU and fp32 on the CPU and the simulator.
    /// </summary>
    public static IBackend Create(string device, string? precision, Action<string>? notice = null)
    {
        ComputePrecision? asked = null;
        if (precision != null)
            asked = ComputePrecisions.TryParse(precision, out var p) ? p
                : throw new ArgumentException($"--precision '{precision}' is not one of {string.Join(", ", Precisions)}");
        switch (device)
        {
            case "cpu":
                if (asked == ComputePrecision.Bf16)
                    throw new ArgumentException("--precision bf16: the CPU backend computes in fp32; bf16 needs --device cuda (or cuda-sim)");
                return new CpuBackend();
            case "auto":
                var probe = CudaProbe.Probe();
                if (probe.IsAvailable) return Cuda(asked ?? ComputePrecision.Bf16, notice);
                string ignored = asked == ComputePrecision.Bf16 ? " (in fp32: --precision bf16 needs a GPU)" : "";
                notice?.Invoke($"running on the CPU backend ({Sgemm.Implementation}){ignored}: no CUDA device: {probe.Reason}");
                return new CpuBackend();
            case "cuda":
                var cuda = CudaProbe.Probe();
                if (!cuda.IsAvailable) throw new ArgumentException($"--device cuda: no usable CUDA device: {cuda.Reason}");
                return Cuda(asked ?? ComputePrecision.Bf16, notice);
            case "cuda-sim":
                if (!SimLibraryBuilder.IsCompilerAvailable(out var reason)) throw new ArgumentException($"--device cuda-sim: {reason}");
                var sim = new CudaBackend(new SimDevice(), asked ?? ComputePrecision.Fp32, ownsDevice: true);
                notice?.Invoke($"running on {sim.Name}: the CUDA kernels executed on the CPU, to test them without a GPU — far slower than --device cpu");
                return sim;
            default:
                throw new ArgumentException($"--device '{device}' is not one of {string.Join(", ", Devices)}");
        }
    }

    static CudaBackend Cuda(ComputePrecision precision, Action<string>? notice)
    {
        var backend = new CudaBackend(CudaDevice.Open(0), precision, ownsDevice: true);
        notice?.Invoke($"running on {backend.Name}");
        return backend;
    }
}
