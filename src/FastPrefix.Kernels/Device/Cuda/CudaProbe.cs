using System.Runtime.InteropServices;
using FastPrefix.Kernels.Interop;
using FastPrefix.Kernels.KernelCompiler;

namespace FastPrefix.Kernels.Device;

/// <summary>Whether a CUDA device can be used here, and if not, why (one line for the user).</summary>
/// <param name="IsAvailable">A device, a recent enough driver, cuBLAS and NVRTC were all found.</param>
/// <param name="Reason">Why not (empty when available), e.g. "libcuda.so.1 not found: ..." or "no CUDA device".</param>
/// <param name="DriverVersion">The driver's CUDA version as 1000·major + 10·minor (12040 = 12.4); 0 if unknown.</param>
/// <param name="DeviceCount">CUDA devices seen by the driver.</param>
public sealed record CudaAvailability(bool IsAvailable, string Reason, int DriverVersion, int DeviceCount)
{
    public static string FormatVersion(int version) => $"{version / 1000}.{version % 1000 / 10}";
}

/// <summary>
/// Looks for a usable CUDA device cheaply: loads the driver library only (then cuBLAS and NVRTC) and asks
/// the driver, without creating a context. The answer is computed once per process.
/// </summary>
public static class CudaProbe
{
    /// <summary>cuGraphInstantiateWithFlags and the cuBLAS 11 compute types need CUDA 11.4.</summary>
    public const int MinimumDriverVersion = 11040;

    private static readonly Lazy<CudaAvailability> Result = new(Run);

    public static CudaAvailability Probe() => Result.Value;

    private static CudaAvailability Run()
    {
        if (!NativeLibraries.TryLoad(CudaLibrary.Driver, out _, out var missingDriver))
            return new CudaAvailability(false, missingDriver, 0, 0);
        int version = 0, count = 0;
        try
        {
            LibCuda.cuDriverGetVersion(out version);
            var init = LibCuda.cuInit(0);
            if (init == CuResult.NoDevice)
                return new CudaAvailability(false, $"no CUDA device (cuInit: {LibCuda.Describe(init)})", version, 0);
            if (init != CuResult.Success)
                return new CudaAvailability(false, $"the CUDA driver did not start: cuInit gave {LibCuda.Describe(init)}", version, 0);
            if (LibCuda.cuDeviceGetCount(out count) != CuResult.Success || count == 0)
                return new CudaAvailability(false, "no CUDA device", version, 0);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return new CudaAvailability(false, $"{NativeLibraries.LoadedFrom(CudaLibrary.Driver)} is not a usable CUDA driver library: {e.Message}", version, 0);
        }
        if (version < MinimumDriverVersion)
            return new CudaAvailability(false, $"the NVIDIA driver supports CUDA {CudaAvailability.FormatVersion(version)}; FastPrefix needs {CudaAvailability.FormatVersion(MinimumDriverVersion)} or newer", version, count);
        if (!NativeLibraries.TryLoad(CudaLibrary.Cublas, out _, out var missingCublas))
            return new CudaAvailability(false, missingCublas, version, count);
        if (!NvrtcCompiler.IsAvailable(out var missingNvrtc))
            return new CudaAvailability(false, missingNvrtc, version, count);
        return new CudaAvailability(true, "", version, count);
    }
}
