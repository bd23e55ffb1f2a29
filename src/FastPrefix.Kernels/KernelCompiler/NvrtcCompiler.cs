using System.Runtime.InteropServices;
using FastPrefix.Kernels.Interop;

namespace FastPrefix.Kernels.KernelCompiler;

/// <summary>What NVRTC compiles for: a real architecture gives a CUBIN (sm_XY), a virtual one PTX (compute_XY).</summary>
public readonly record struct NvrtcTarget(int Architecture, bool Cubin)
{
    public string Name => $"{(Cubin ? "sm" : "compute")}_{Architecture}";

    /// <summary>
    /// For a device of compute capability <paramref name="major"/>.<paramref name="minor"/>: a CUBIN when this NVRTC
    /// knows the architecture (the driver loads it without a JIT, and a CUBIN does not need a driver as new as
    /// NVRTC the way PTX does), else PTX for the newest architecture it knows below it (the driver JITs it).
    /// </summary>
    public static NvrtcTarget ForDevice(int major, int minor, IReadOnlyList<int> supported)
    {
        int architecture = major * 10 + minor;
        if (supported.Contains(architecture)) return new NvrtcTarget(architecture, Cubin: true);
        var below = supported.Where(a => a <= architecture).ToList();
        if (below.Count == 0)
            throw new NotSupportedException($"NVRTC {NvrtcCompiler.Version.Major}.{NvrtcCompiler.Version.Minor} cannot compile for compute capability {major}.{minor} (it knows {string.Join(", ", supported)})");
        return new NvrtcTarget(below.Max(), Cubin: false);
    }

    public override string ToString() => Name;
}

/// <summary>
/// Compiles kernel files with NVRTC. No CUDA header is involved: our headers are passed to NVRTC by name.
/// Options: the target, -default-device (no __device__ on every helper), -std=c++17; not --use_fast_math, so the
/// GPU's expf, division and square root keep the accuracy the tests hold the kernels to.
/// </summary>
public static class NvrtcCompiler
{
    private static readonly Lazy<(int Major, int Minor)> VersionValue = new(() =>
    {
        CudaException.ThrowIfFailed(LibNvrtc.nvrtcVersion(out var major, out var minor));
        return (major, minor);
    });

    private static readonly Lazy<IReadOnlyList<int>> SupportedValue = new(ReadSupportedArchitectures);

    /// <summary>True when an NVRTC library can be loaded; otherwise <paramref name="reason"/> says what was tried.</summary>
    public static bool IsAvailable(out string reason)
    {
        if (NativeLibraries.TryLoad(CudaLibrary.Nvrtc, out _, out var detail))
        {
            reason = "";
            return true;
        }
        reason = detail;
        return false;
    }

    public static (int Major, int Minor) Version => VersionValue.Value;

    /// <summary>Real architectures this NVRTC can compile for (e.g. 80 for sm_80).</summary>
    public static IReadOnlyList<int> SupportedArchitectures => SupportedValue.Value;

    public static IReadOnlyList<string> Options(NvrtcTarget target) =>
        [$"--gpu-architecture={target.Name}", "-default-device", "-std=c++17"];

    /// <summary>Compiles one kernel file; returns PTX (NUL-terminated) or a CUBIN. Throws <see cref="KernelCompileException"/> with NVRTC's log.</summary>
    public static unsafe byte[] Compile(KernelSource file, IReadOnlyList<KernelSource> headers, NvrtcTarget target)
    {
        var strings = new List<nint>();
        nint Utf8(string text)
        {
            var p = Marshal.StringToCoTaskMemUTF8(text);
            strings.Add(p);
            return p;
        }
        nint program = 0;
        try
        {
            var headerTexts = stackalloc byte*[Math.Max(1, headers.Count)];
            var headerNames = stackalloc byte*[Math.Max(1, headers.Count)];
            for (int i = 0; i < headers.Count; i++)
            {
                headerTexts[i] = (byte*)Utf8(headers[i].Text);
                headerNames[i] = (byte*)Utf8(headers[i].Name);
            }
            CudaException.ThrowIfFailed(LibNvrtc.nvrtcCreateProgram(out program, (byte*)Utf8(file.Text), (byte*)Utf8(file.Name),
                headers.Count, headerTexts, headerNames));
            var options = Options(target);
            var optionPointers = stackalloc byte*[options.Count];
            for (int i = 0; i < options.Count; i++) optionPointers[i] = (byte*)Utf8(options[i]);
            var result = LibNvrtc.nvrtcCompileProgram(program, options.Count, optionPointers);
            if (result != NvrtcResult.Success)
                throw new KernelCompileException(file.Name,
                    $"NVRTC {Version.Major}.{Version.Minor} could not compile {file.Name} for {target.Name} ({LibNvrtc.Describe(result)}):\n{ReadLog(program)}");
            return target.Cubin ? ReadOutput(program, LibNvrtc.nvrtcGetCUBINSize, LibNvrtc.nvrtcGetCUBIN)
                                : ReadOutput(program, LibNvrtc.nvrtcGetPTXSize, LibNvrtc.nvrtcGetPTX);
        }
        finally
        {
            if (program != 0) LibNvrtc.nvrtcDestroyProgram(ref program);
            foreach (var p in strings) Marshal.FreeCoTaskMem(p);
        }
    }

    /// <summary>
    /// <see cref="Compile"/> through <paramref name="cache"/>: the key covers the file, every header, the NVRTC
    /// version, the target and the options.
    /// </summary>
    public static byte[] CompileCached(KernelCache cache, KernelSource file, IReadOnlyList<KernelSource> headers, NvrtcTarget target,
        out CacheOutcome outcome)
    {
        var key = KernelSet.Hash([file, .. headers], $"nvrtc {Version.Major}.{Version.Minor}", target.Name, string.Join(" ", Options(target)), "format 1");
        var entry = $"nvrtc/{Path.GetFileNameWithoutExtension(file.Name)}-{target.Name}-{key[..16]}.{(target.Cubin ? "cubin" : "ptx")}";
        var path = cache.GetOrBuild(entry, temporary => File.WriteAllBytes(temporary, Compile(file, headers, target)), out outcome);
        return File.ReadAllBytes(path);
    }

    private static unsafe string ReadLog(nint program)
    {
        if (LibNvrtc.nvrtcGetProgramLogSize(program, out var size) != NvrtcResult.Success || size <= 1) return "(no log)";
        var log = new byte[(int)size];
        fixed (byte* p = log) LibNvrtc.nvrtcGetProgramLog(program, p);
        return System.Text.Encoding.UTF8.GetString(log, 0, log.Length - 1).TrimEnd();
    }

    private unsafe delegate NvrtcResult SizeOf(nint program, out nuint size);
    private unsafe delegate NvrtcResult Output(nint program, byte* output);

    private static unsafe byte[] ReadOutput(nint program, SizeOf sizeOf, Output output)
    {
        CudaException.ThrowIfFailed(sizeOf(program, out var size));
        var bytes = new byte[(int)size];
        fixed (byte* p = bytes) CudaException.ThrowIfFailed(output(program, p));
        return bytes;
    }

    private static unsafe IReadOnlyList<int> ReadSupportedArchitectures()
    {
        CudaException.ThrowIfFailed(LibNvrtc.nvrtcGetNumSupportedArchs(out var count));
        var architectures = new int[count];
        fixed (int* p = architectures) CudaException.ThrowIfFailed(LibNvrtc.nvrtcGetSupportedArchs(p));
        return architectures;
    }
}

/// <summary>A kernel file did not compile; the message names the file and carries the compiler's log.</summary>
public sealed class KernelCompileException(string file, string message) : Exception(message)
{
    public string File { get; } = file;
}
