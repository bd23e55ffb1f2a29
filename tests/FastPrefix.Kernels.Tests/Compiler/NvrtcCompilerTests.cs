using System.Text;

namespace FastPrefix.Kernels.Tests.Compiler;

/// <summary>
/// NVRTC, which needs no GPU: every kernel file (the repository's and the tests') compiles for compute_80 and
/// compute_90 with the installed NVRTC (CI: Debian's libnvrtc11.2), and NVRTC's cache and errors behave.
/// </summary>
public class NvrtcCompilerTests
{
    public static TheoryData<string, int> KernelFilesAndArchitectures()
    {
        var cases = new TheoryData<string, int>();
        foreach (var file in TestKernels.Set.Files)
            foreach (var architecture in new[] { 80, 90 })
                cases.Add(file.Name, architecture);
        return cases;
    }

    [Theory, MemberData(nameof(KernelFilesAndArchitectures))]
    [Trait("Category", "KernelCompile")]
    public void KernelCompile(string file, int architecture)
    {
        Devices.RequireNvrtc();
        var kernels = TestKernels.Set;
        var ptx = NvrtcCompiler.Compile(kernels.Files.Single(f => f.Name == file), kernels.Headers, new NvrtcTarget(architecture, Cubin: false));
        var text = Encoding.UTF8.GetString(ptx).TrimEnd('\0');
        Assert.Contains($".target sm_{architecture}", text);
        foreach (var kernel in kernels.KernelsIn(file))
            Assert.Contains($".entry {kernel}(", text);
    }

    /// <summary>
    /// The same files through ptxas (a cubin for sm_80 and sm_90): what PTX alone does not check — static shared memory
    /// within 48 KiB, registers within each kernel's launch bounds, inline PTX — fails here rather than on a GPU.
    /// </summary>
    [Theory, MemberData(nameof(KernelFilesAndArchitectures))]
    [Trait("Category", "KernelCompile")]
    public void KernelAssemble(string file, int architecture)
    {
        Devices.RequireNvrtc();
        if (!NvrtcCompiler.SupportedArchitectures.Contains(architecture))
            Assert.Skip($"NVRTC {NvrtcCompiler.Version.Major}.{NvrtcCompiler.Version.Minor} cannot make a cubin for sm_{architecture}");
        var kernels = TestKernels.Set;
        var cubin = NvrtcCompiler.Compile(kernels.Files.Single(f => f.Name == file), kernels.Headers, new NvrtcTarget(architecture, Cubin: true));
        Assert.Equal("\x7f" + "ELF", Encoding.ASCII.GetString(cubin, 0, 4));
    }

    [Fact]
    public void A_real_architecture_gives_a_cubin_and_a_device_gets_one_when_nvrtc_knows_it()
    {
        Devices.RequireNvrtc();
        var convert = KernelSet.Builtin.Files.Single(f => f.Name == "convert.cu");
        var cubin = NvrtcCompiler.Compile(convert, KernelSet.Builtin.Headers, new NvrtcTarget(80, Cubin: true));
        Assert.Equal("\x7f" + "ELF", Encoding.ASCII.GetString(cubin, 0, 4));
        Assert.Equal(new NvrtcTarget(80, true), NvrtcTarget.ForDevice(8, 0, [75, 80, 90]));
        Assert.Equal(new NvrtcTarget(90, false), NvrtcTarget.ForDevice(12, 0, [75, 80, 90]));   // newer than NVRTC: PTX the driver JITs
        Assert.Contains("cannot compile for compute capability 6.0", Assert.Throws<NotSupportedException>(() => NvrtcTarget.ForDevice(6, 0, [75, 80])).Message);
    }

    [Fact]
    public void A_compile_error_names_the_file_and_carries_the_log()
    {
        Devices.RequireNvrtc();
        var broken = new KernelSource("broken.cu", "#include \"common.cuh\"\nextern \"C\" __global__ void broken(float* out)\n{\n    out[0] = undeclared_name;\n}\n");
        var error = Assert.Throws<KernelCompileException>(() => NvrtcCompiler.Compile(broken, KernelSet.Builtin.Headers, new NvrtcTarget(80, false)));
        Assert.Equal("broken.cu", error.File);
        Assert.Contains("could not compile broken.cu for compute_80", error.Message);
        Assert.Contains("broken.cu(4): error: identifier \"undeclared_name\" is undefined", error.Message);
    }

    [Fact]
    public void Compiled_kernels_are_cached_rebuilt_when_corrupt_and_when_a_header_changes()
    {
        Devices.RequireNvrtc();
        using var temporary = new TemporaryCache();
        var kernels = KernelSet.Builtin;
        var fill = kernels.Files.Single(f => f.Name == "fill.cu");
        var target = new NvrtcTarget(80, false);
        var first = NvrtcCompiler.CompileCached(temporary.Cache, fill, kernels.Headers, target, out var built);
        Assert.Equal(CacheOutcome.Built, built);
        Assert.Equal(first, NvrtcCompiler.CompileCached(temporary.Cache, fill, kernels.Headers, target, out var hit));
        Assert.Equal(CacheOutcome.Hit, hit);

        var entry = Directory.GetFiles(temporary.Cache.Directory, "fill-compute_80-*.ptx", SearchOption.AllDirectories).Single();
        File.WriteAllText(entry, "garbage");
        Assert.Equal(first, NvrtcCompiler.CompileCached(temporary.Cache, fill, kernels.Headers, target, out var rebuilt));
        Assert.Equal(CacheOutcome.Rebuilt, rebuilt);

        var headers = kernels.Headers.Select(h => h with { Text = h.Text + "\n// changed\n" }).ToList();
        NvrtcCompiler.CompileCached(temporary.Cache, fill, headers, target, out var changed);
        Assert.Equal(CacheOutcome.Built, changed);
    }
}
