using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace FastPrefix.Kernels.KernelCompiler;

/// <summary>A source file of the kernel tree, named by its path under kernels/ (e.g. "convert.cu", "sim/cuda_sim.h").</summary>
public sealed record KernelSource(string Name, string Text);

/// <summary>
/// The kernel sources a device launches from: the kernel files (*.cu, one program each for NVRTC), our
/// headers (*.cuh, passed to NVRTC by name) and the simulator's files (sim/*). <see cref="Builtin"/> is the
/// repository's kernels/ folder, embedded in this assembly; <see cref="With"/> adds more (tests bring theirs).
/// Kernels are found by their <c>extern "C" __global__</c> names, which must be unique across files.
/// </summary>
public sealed partial class KernelSet
{
    private const string ResourcePrefix = "kernels/";
    private static readonly Lazy<KernelSet> BuiltinSet = new(() => FromResources(typeof(KernelSet).Assembly, ResourcePrefix));
    private readonly Dictionary<string, string> _fileOfKernel;
    private readonly Dictionary<string, IReadOnlyList<string>> _kernelsOfFile;

    private KernelSet(IEnumerable<KernelSource> sources)
    {
        var all = sources.ToList();
        Files = all.Where(s => s.Name.EndsWith(".cu", StringComparison.Ordinal)).OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
        SimulatorFiles = all.Where(s => s.Name.StartsWith("sim/", StringComparison.Ordinal)).OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
        Headers = all.Except(Files).Except(SimulatorFiles).OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
        _fileOfKernel = new Dictionary<string, string>(StringComparer.Ordinal);
        _kernelsOfFile = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var file in Files)
        {
            var names = ScanKernelNames(file.Text);
            _kernelsOfFile[file.Name] = names;
            foreach (var name in names)
                if (!_fileOfKernel.TryAdd(name, file.Name))
                    throw new ArgumentException($"kernel {name} is defined in both {_fileOfKernel[name]} and {file.Name}: kernel names must be unique");
        }
    }

    /// <summary>The repository's kernels/ folder, as embedded in FastPrefix.Kernels.</summary>
    public static KernelSet Builtin => BuiltinSet.Value;

    /// <summary>*.cu files, each compiled on its own by NVRTC.</summary>
    public IReadOnlyList<KernelSource> Files { get; }

    /// <summary>Our headers (*.cuh), visible to every kernel file by name.</summary>
    public IReadOnlyList<KernelSource> Headers { get; }

    /// <summary>sim/*: the simulation header and runtime, used by the host-compiler build only.</summary>
    public IReadOnlyList<KernelSource> SimulatorFiles { get; }

    /// <summary>Every kernel name, in file order.</summary>
    public IEnumerable<string> KernelNames => Files.SelectMany(f => _kernelsOfFile[f.Name]);

    /// <summary>The file that defines kernel <paramref name="name"/>, or null.</summary>
    public string? FileOf(string name) => _fileOfKernel.GetValueOrDefault(name);

    /// <summary>The kernels a file defines, in source order.</summary>
    public IReadOnlyList<string> KernelsIn(string fileName) => _kernelsOfFile[fileName];

    /// <summary>This set plus <paramref name="extra"/> (a source with the name of an existing one replaces it).</summary>
    public KernelSet With(params KernelSource[] extra)
    {
        var names = extra.Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
        return new KernelSet(Files.Concat(Headers).Concat(SimulatorFiles).Where(s => !names.Contains(s.Name)).Concat(extra));
    }

    /// <summary>A set of exactly <paramref name="sources"/> (kernel files, headers, simulator files by their names).</summary>
    public static KernelSet Create(IEnumerable<KernelSource> sources) => new(sources);

    /// <summary>Sources embedded in <paramref name="assembly"/> under logical names starting with <paramref name="prefix"/>.</summary>
    public static KernelSet FromResources(Assembly assembly, string prefix) => new(ReadResources(assembly, prefix));

    /// <summary>Embedded sources of <paramref name="assembly"/> whose logical names start with <paramref name="prefix"/> (prefix removed).</summary>
    public static IReadOnlyList<KernelSource> ReadResources(Assembly assembly, string prefix)
    {
        var sources = new List<KernelSource>();
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream, Encoding.UTF8);
            sources.Add(new KernelSource(resource[prefix.Length..], reader.ReadToEnd()));
        }
        return sources;
    }

    /// <summary>SHA-256 (hex) over the names and texts of <paramref name="sources"/> and <paramref name="extras"/>.</summary>
    public static string Hash(IEnumerable<KernelSource> sources, params string[] extras)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var source in sources)
        {
            sha.AppendData(Encoding.UTF8.GetBytes(source.Name + "\0" + source.Text + "\0"));
        }
        foreach (var extra in extras) sha.AppendData(Encoding.UTF8.GetBytes(extra + "\0"));
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>Names of the <c>extern "C" __global__</c> functions in a source, comments ignored.</summary>
    public static IReadOnlyList<string> ScanKernelNames(string text) =>
        KernelDeclaration().Matches(Comment().Replace(text, " ")).Select(m => m.Groups[1].Value).ToList();

    [GeneratedRegex(@"//[^\n]*|/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex Comment();

    [GeneratedRegex(@"extern\s+""C""\s+__global__\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?void\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?([A-Za-z_]\w*)\s*\(")]
    private static partial Regex KernelDeclaration();
}
