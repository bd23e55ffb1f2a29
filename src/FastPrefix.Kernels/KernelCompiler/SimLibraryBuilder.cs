using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace FastPrefix.Kernels.KernelCompiler;

/// <summary>
/// Builds the simulated device's library: every kernel file of a <see cref="KernelSet"/>, compiled by the host
/// C++ compiler against sim/cuda_sim.h, linked with the simulator's runtime into one shared library, cached
/// like NVRTC output (key: sources, compiler and its version, flags). Each kernel file becomes a unit
/// <c>#include "file.cu"</c> + <c>FP_SIM_KERNEL(name)</c> per kernel, so the library can find kernels by name.
/// The compiler is g++ unless FASTPREFIX_CXX or CXX names another.
/// </summary>
public static partial class SimLibraryBuilder
{
    /// <summary>Compile flags. -fno-strict-aliasing: kernels reinterpret memory as CUDA code does.
    /// -fno-math-errno: math functions need not set errno (the GPU's do not either).</summary>
    public static readonly IReadOnlyList<string> Flags =
        ["-O2", "-std=c++17", "-fPIC", "-fno-strict-aliasing", "-fno-math-errno", "-fvisibility=hidden", "-pthread"];

    private static readonly Lazy<(string? Version, string Reason)> CompilerIdentity = new(ProbeCompiler);

    /// <summary>The host compiler command.</summary>
    public static string Compiler =>
        Environment.GetEnvironmentVariable("FASTPREFIX_CXX") is { Length: > 0 } fp ? fp
        : Environment.GetEnvironmentVariable("CXX") is { Length: > 0 } cxx ? cxx
        : "g++";

    /// <summary>True when the host compiler runs; otherwise <paramref name="reason"/> says what to install.</summary>
    public static bool IsCompilerAvailable(out string reason)
    {
        reason = CompilerIdentity.Value.Reason;
        return CompilerIdentity.Value.Version is not null;
    }

    /// <summary>The compiler's first --version line, e.g. "g++ (Debian 12.2.0-14+deb12u1) 12.2.0".</summary>
    public static string CompilerVersion =>
        CompilerIdentity.Value.Version ?? throw new KernelCompileException("", CompilerIdentity.Value.Reason);

    /// <summary>
    /// The path of the built library for <paramref name="kernels"/>, from the cache when there.
    /// <paramref name="defines"/> are extra -D options (e.g. FP_SIM_UCONTEXT, to measure the simulator with ucontext).
    /// </summary>
    public static string Build(KernelSet kernels, KernelCache cache, out CacheOutcome outcome, IReadOnlyList<string>? defines = null)
    {
        defines ??= [];
        var key = KernelSet.Hash([.. kernels.Files, .. kernels.Headers, .. kernels.SimulatorFiles],
            CompilerVersion, string.Join(" ", Flags), string.Join(" ", defines.Select(d => "-D" + d)), "format 1");
        return cache.GetOrBuild($"sim/kernels-{key[..16]}.so", output => Compile(kernels, output, defines), out outcome);
    }

    private static void Compile(KernelSet kernels, string output, IReadOnlyList<string> defines)
    {
        RejectExternShared(kernels);
        var folder = Directory.CreateTempSubdirectory("fastprefix-sim-");
        try
        {
            foreach (var source in kernels.Files.Concat(kernels.Headers).Concat(kernels.SimulatorFiles))
            {
                var path = Path.Combine(folder.FullName, source.Name);
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                File.WriteAllText(path, source.Text);
            }
            var units = new List<string>();
            foreach (var file in kernels.Files)
            {
                var unit = new StringBuilder($"#include \"{file.Name}\"\n");
                foreach (var name in kernels.KernelsIn(file.Name)) unit.Append($"FP_SIM_KERNEL({name})\n");
                File.WriteAllText(Path.Combine(folder.FullName, file.Name + ".sim.cpp"), unit.ToString());
                units.Add(file.Name + ".sim.cpp");
            }
            units.Add("sim/sim_runtime.cpp");

            // Units compile in parallel (each kernel file is its own unit), then one link.
            var common = Flags.Concat(defines.Select(d => "-D" + d)).Concat(["-include", "sim/cuda_sim.h", "-I", ".", "-I", "sim"]).ToList();
            var failures = new string?[units.Count];
            Parallel.For(0, units.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
                failures[i] = Run(folder.FullName, [.. common, "-c", units[i], "-o", units[i] + ".o"]));
            if (failures.FirstOrDefault(f => f is not null) is { } failure) throw Failure(failure);
            var link = Run(folder.FullName, [.. Flags, "-shared", .. units.Select(u => u + ".o"), "-o", Path.GetFullPath(output)]);
            if (link is not null) throw Failure(link);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static KernelCompileException Failure(string log)
    {
        var file = FileInLog().Match(log) is { Success: true } m ? m.Groups[1].Value : "";
        var lines = log.Split('\n');
        var shown = string.Join('\n', lines.Take(60)) + (lines.Length > 60 ? $"\n... ({lines.Length - 60} more lines)" : "");
        return new KernelCompileException(file, $"{Compiler} could not build the simulated kernels{(file.Length > 0 ? " (" + file + ")" : "")}:\n{shown}");
    }

    /// <summary>Runs the compiler; null on success, else its output.</summary>
    private static string? Run(string folder, IReadOnlyList<string> arguments)
    {
        var start = new ProcessStartInfo(Compiler) { WorkingDirectory = folder, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 ? null : (stdout + stderr.Result).Trim();
    }

    // The simulator provides dynamic shared memory through DYNAMIC_SHARED; `extern __shared__` cannot be mapped.
    private static void RejectExternShared(KernelSet kernels)
    {
        foreach (var file in kernels.Files.Concat(kernels.Headers))
        {
            var lines = file.Text.Split('\n');
            for (int i = 0; i < lines.Length; i++)
                if (ExternShared().IsMatch(lines[i]) && !lines[i].TrimStart().StartsWith("//", StringComparison.Ordinal) && !lines[i].Contains("fp_dynamic_shared_"))
                    throw new KernelCompileException(file.Name,
                        $"{file.Name}:{i + 1}: declare dynamic shared memory with DYNAMIC_SHARED(type, name) (common.cuh), not extern __shared__: the simulator cannot provide it otherwise");
        }
    }

    private static (string? Version, string Reason) ProbeCompiler()
    {
        try
        {
            var start = new ProcessStartInfo(Compiler, "--version") { RedirectStandardOutput = true, RedirectStandardError = true };
            using var process = Process.Start(start)!;
            var first = process.StandardOutput.ReadLine();
            process.StandardOutput.ReadToEnd();
            process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode == 0 && first is not null) return (first.Trim(), "");
            return (null, $"the host C++ compiler '{Compiler}' did not run (exit {process.ExitCode}); the simulated GPU device builds its kernels with it");
        }
        catch (Win32Exception)
        {
            return (null, $"no host C++ compiler: '{Compiler}' was not found on PATH. The simulated GPU device builds its kernels with it: " +
                          "install g++ (Debian/Ubuntu: apt-get install g++) or set CXX to a C++17 compiler");
        }
    }

    [GeneratedRegex(@"\bextern\s+__shared__\b")]
    private static partial Regex ExternShared();

    [GeneratedRegex(@"^([\w./-]+):\d+:\d+: (?:fatal )?error", RegexOptions.Multiline)]
    private static partial Regex FileInLog();
}
