using FastPrefix.Backends;
using FastPrefix.Backends.Cpu;
using FastPrefix.Backends.Cuda;
using FastPrefix.Kernels.Device;
using FastPrefix.Kernels.KernelCompiler;

namespace FastPrefix.Tests.Support;

/// <summary>
/// The backends the model-level tests run on: "cpu" (the reference), "cuda-sim" (the CUDA backend on the simulated GPU,
/// everywhere a host C++ compiler is) and "cuda" (on a real GPU, when there is one). A backend that cannot be had here
/// skips the test with the reason.
/// </summary>
public static class GpuBackends
{
    /// <summary>The GPU backend's (device, precision) combinations: both devices, both precisions.</summary>
    public static IEnumerable<(string Kind, string Precision)> Combinations =>
        from kind in new[] { "cuda-sim", "cuda" } from precision in new[] { "fp32", "bf16" } select (kind, precision);

    /// <summary><see cref="Combinations"/> as theory rows.</summary>
    public static TheoryData<string, string> GpuKinds()
    {
        var data = new TheoryData<string, string>();
        foreach (var (kind, precision) in Combinations) data.Add(kind, precision);
        return data;
    }

    /// <summary>Opens <paramref name="kind"/> ("cpu", "cuda-sim", "cuda") in <paramref name="precision"/> ("fp32", "bf16"), or skips.</summary>
    public static IBackend Open(string kind, string precision = "fp32")
    {
        if (!ComputePrecisions.TryParse(precision, out var p)) throw new ArgumentException($"unknown precision {precision}");
        switch (kind)
        {
            case "cpu":
                if (p != ComputePrecision.Fp32) throw new ArgumentException("the CPU backend computes in fp32 only");
                return new CpuBackend();
            case "cuda-sim":
                if (!SimLibraryBuilder.IsCompilerAvailable(out var reason)) Assert.Skip(reason);
                return new CudaBackend(new SimDevice(), p, ownsDevice: true);
            case "cuda":
                var probe = CudaProbe.Probe();
                if (!probe.IsAvailable) Assert.Skip($"no CUDA device here: {probe.Reason}");
                return new CudaBackend(CudaDevice.Open(0), p, ownsDevice: true);
            default:
                throw new ArgumentException($"unknown backend {kind}");
        }
    }

    /// <summary>Opens a GPU backend (see <see cref="Open"/>) typed as one.</summary>
    public static CudaBackend OpenGpu(string kind, string precision) => (CudaBackend)Open(kind, precision);

    /// <summary>A bf16 GPU backend with its attention forward on tensor cores or on CUDA cores, or skips.</summary>
    public static CudaBackend OpenBf16(string kind, bool tensorCoreAttention)
    {
        OpenGpu(kind, "bf16").Dispose();   // skips where the device cannot be had
        IGpuDevice device = kind == "cuda" ? CudaDevice.Open(0) : new SimDevice();
        try { return new CudaBackend(device, ComputePrecision.Bf16, ownsDevice: true) { TensorCoreAttention = tensorCoreAttention }; }
        catch { device.Dispose(); throw; }
    }
}
