namespace FastPrefix.Kernels.Tests.Compiler;

/// <summary>The host-compiler build of the simulator library: cached, rebuilt when corrupt or changed, clear errors.</summary>
public class SimLibraryBuilderTests
{
    private static readonly KernelSource Extra = new("extra.cu", """
        #include "common.cuh"
        // out (n) = 2 * n
        extern "C" __global__ void extra_fill(int* out, int n) { if (threadIdx.x < n) out[threadIdx.x] = 2 * n; }
        """);

    // The headers and the simulator with one small kernel file: quicker to build than every kernel.
    private static KernelSet Small(params KernelSource[] files) =>
        KernelSet.Create([.. KernelSet.Builtin.Headers, .. KernelSet.Builtin.SimulatorFiles, .. files]);

    [Fact]
    public void The_library_is_reused_rebuilt_when_corrupt_and_rebuilt_when_a_source_changes()
    {
        Devices.RequireHostCompiler();
        using var temporary = new TemporaryCache();
        var kernels = Small(Extra);
        var path = SimLibraryBuilder.Build(kernels, temporary.Cache, out var first);
        Assert.Equal(CacheOutcome.Built, first);
        Assert.Equal(path, SimLibraryBuilder.Build(kernels, temporary.Cache, out var second));
        Assert.Equal(CacheOutcome.Hit, second);

        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(path, bytes);
        Assert.Equal(path, SimLibraryBuilder.Build(kernels, temporary.Cache, out var third));
        Assert.Equal(CacheOutcome.Rebuilt, third);

        var changed = kernels.With(Extra with { Text = Extra.Text.Replace("2 * n", "3 * n") });
        Assert.NotEqual(path, SimLibraryBuilder.Build(changed, temporary.Cache, out var fourth));
        Assert.Equal(CacheOutcome.Built, fourth);
    }

    [Fact]
    public void Kernels_brought_by_a_caller_run_on_the_simulated_device()
    {
        Devices.RequireHostCompiler();
        using var temporary = new TemporaryCache();
        using var device = new SimDevice(Small(Extra), new SimDeviceOptions { Cache = temporary.Cache });
        using var output = device.AllocateArray<int>(40);
        device.Run("extra_fill", TestLaunch.Blocks(1, 64), output, 40);
        Assert.All(device.DownloadArray<int>(output.Pointer, 40), v => Assert.Equal(80, v));
    }

    [Fact]
    public void A_compile_error_names_the_file_and_carries_the_compiler_log()
    {
        Devices.RequireHostCompiler();
        using var temporary = new TemporaryCache();
        var broken = new KernelSource("broken.cu", "#include \"common.cuh\"\nextern \"C\" __global__ void broken(float* out)\n{\n    out[0] = undeclared_name;\n}\n");
        var error = Assert.Throws<KernelCompileException>(() => SimLibraryBuilder.Build(Small(broken), temporary.Cache, out _));
        Assert.Equal("broken.cu", error.File);
        Assert.Contains("broken.cu:4:", error.Message);
        Assert.Contains("undeclared_name", error.Message);
        Assert.Empty(Directory.GetFiles(temporary.Cache.Directory, "*.so", SearchOption.AllDirectories));
    }

    [Fact]
    public void Extern_shared_is_refused_with_the_line_and_the_macro_to_use()
    {
        Devices.RequireHostCompiler();
        using var temporary = new TemporaryCache();
        var source = new KernelSource("dynamic.cu", "#include \"common.cuh\"\nextern \"C\" __global__ void dynamic(float* out)\n{\n    extern __shared__ float buffer[];\n    out[0] = buffer[0];\n}\n");
        var error = Assert.Throws<KernelCompileException>(() => SimLibraryBuilder.Build(Small(source), temporary.Cache, out _));
        Assert.StartsWith("dynamic.cu:4: declare dynamic shared memory with DYNAMIC_SHARED(type, name)", error.Message);
    }
}
