using System.Reflection;
using System.Runtime.InteropServices;
using FastPrefix.Kernels.Interop;

namespace FastPrefix.Kernels.Tests.Interop;

/// <summary>
/// The bindings against the real libraries where they are installed (no GPU needed): every entry point exists
/// under the name it is bound to, and the probe and device explain why CUDA cannot be used.
/// </summary>
public class BindingsTests
{
    public static TheoryData<string> Libraries => new() { "LibCuda", "LibCublas", "LibNvrtc" };

    [Theory, MemberData(nameof(Libraries))]
    public void Every_bound_entry_point_exists_in_the_installed_library(string bindings)
    {
        var type = typeof(NativeLibraries).Assembly.GetType($"FastPrefix.Kernels.Interop.{bindings}", throwOnError: true)!;
        var library = bindings switch { "LibCuda" => CudaLibrary.Driver, "LibCublas" => CudaLibrary.Cublas, _ => CudaLibrary.Nvrtc };
        if (!NativeLibraries.TryLoad(library, out var handle, out var reason)) Assert.Skip($"not installed here: {reason}");
        var imports = type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
            .Select(m => (Method: m, Import: m.GetCustomAttribute<LibraryImportAttribute>()))
            .Where(x => x.Import is not null).ToList();
        Assert.NotEmpty(imports);
        // cuFuncGetParamInfo is CUDA 12.4+, cublasGetStatusName/String cuBLAS 11.4.2+: optional, used with a fallback.
        string[] optional = ["cuFuncGetParamInfo", "cublasGetStatusName", "cublasGetStatusString"];
        var missing = imports.Select(x => x.Import!.EntryPoint ?? x.Method.Name)
            .Where(name => !optional.Contains(name) && !NativeLibrary.TryGetExport(handle, name, out _)).ToList();
        Assert.True(missing.Count == 0, $"{NativeLibraries.LoadedFrom(library)} lacks {string.Join(", ", missing)}");
    }

    [Fact]
    public void The_probe_says_why_cuda_cannot_be_used_and_opening_a_device_says_the_same()
    {
        var probe = CudaProbe.Probe();
        if (probe.IsAvailable)
        {
            using var device = CudaDevice.Open();
            Assert.Equal(DeviceKind.Cuda, device.Info.Kind);
            return;
        }
        Assert.False(string.IsNullOrWhiteSpace(probe.Reason));
        if (!NativeLibraries.TryLoad(CudaLibrary.Driver, out _, out _))
            Assert.StartsWith("libcuda.so.1 not found: tried libcuda.so.1, libcuda.so in the loader's path and", probe.Reason);
        Assert.Equal(probe.Reason, Assert.Throws<CudaUnavailableException>(() => CudaDevice.Open()).Message);
    }

    [Fact]
    public void Nvrtc_reports_its_version_and_architectures()
    {
        Devices.RequireNvrtc();
        var (major, minor) = NvrtcCompiler.Version;
        Assert.True(major >= 11, $"NVRTC {major}.{minor}");
        Assert.Contains(80, NvrtcCompiler.SupportedArchitectures);
        Assert.Contains(90, NvrtcCompiler.SupportedArchitectures);
    }

    [Fact]
    public void A_failed_nvrtc_call_names_the_call_and_the_native_error()
    {
        Devices.RequireNvrtc();
        var error = Assert.Throws<CudaException>(() => CompileNothing());
        Assert.Equal("NVRTC", error.Library);
        Assert.StartsWith("NVRTC call LibNvrtc.nvrtcCompileProgram(0, 0, null) failed: NVRTC_ERROR_INVALID_PROGRAM", error.Message);
    }

    private static unsafe void CompileNothing() => CudaException.ThrowIfFailed(LibNvrtc.nvrtcCompileProgram(0, 0, null));
}
