namespace FastPrefix.Kernels.Tests.Support;

/// <summary>
/// The devices tests run on: "sim" everywhere a host C++ compiler is (the simulated GPU), "cuda" where a GPU is.
/// A test that cannot get its device skips with the reason.
/// </summary>
public static class Devices
{
    public static TheoryData<string> Kinds => new() { "sim", "cuda" };

    /// <summary>A new device of <paramref name="kind"/> with the test kernels, or a skip saying why there is none.</summary>
    public static IGpuDevice Open(string kind, SimDeviceOptions? options = null) => kind switch
    {
        "sim" => OpenSimulated(options),
        "cuda" => OpenCuda(),
        _ => throw new ArgumentException($"unknown device kind {kind}"),
    };

    public static SimDevice OpenSimulated(SimDeviceOptions? options = null)
    {
        RequireHostCompiler();
        return new SimDevice(TestKernels.Set, options);
    }

    public static CudaDevice OpenCuda()
    {
        var probe = CudaProbe.Probe();
        if (!probe.IsAvailable) Assert.Skip($"no CUDA device here: {probe.Reason}");
        return CudaDevice.Open(0, TestKernels.Set);
    }

    public static void RequireHostCompiler()
    {
        if (!SimLibraryBuilder.IsCompilerAvailable(out var reason)) Assert.Skip(reason);
    }

    public static void RequireNvrtc()
    {
        if (!NvrtcCompiler.IsAvailable(out var reason)) Assert.Skip($"no NVRTC library here: {reason}");
    }
}
