using FastPrefix.Adapters;
using FastPrefix.Backends;
using FastPrefix.Data.Features;
using FastPrefix.Data.Tasks;
using FastPrefix.Data.Tokenization;
using FastPrefix.Model;

namespace FastPrefix.Cli.Commands;

/// <summary>A backbone, its tokenizer and one trained adapter loaded on it: what eval and predict share.</summary>
internal sealed class AdapterSession : IDisposable
{
    public required IBackend Backend { get; init; }
    public required EncoderWeights Weights { get; init; }
    public required PTuningModel Model { get; init; }
    public required AdapterMetadata Metadata { get; init; }
    public required ITextTokenizer Tokenizer { get; init; }

    /// <summary>
    /// Opens <paramref name="adapterPath"/> (an adapter file, or a folder holding adapter.safetensors) on the backbone;
    /// the files are read and checked (metadata against the backbone included) before the weights are loaded.
    /// </summary>
    public static AdapterSession Open(string modelDir, string adapterPath, string device, string? precision, TextWriter notices)
    {
        ModelFolder.Check(modelDir);
        adapterPath = ResolveAdapter(adapterPath);
        var config = ModelFolder.LoadConfig(modelDir);
        var tokenizer = TokenizerFactory.FromFolder(modelDir);
        TokenizerFactory.CheckFits(tokenizer, config, modelDir);
        var contents = AdapterFile.Read(adapterPath);
        var meta = contents.Metadata;
        AdapterFile.CheckBackbone(contents.Source, meta.BaseModelConfig, config, meta.BaseModelFingerprint,
            BackboneFingerprint.OfFolderLike(modelDir, meta.BaseModelFingerprint));
        if (meta.TokenizerKind.Length > 0 && meta.TokenizerKind != tokenizer.Kind)
            throw new UserInputException($"{adapterPath}: trained with a {meta.TokenizerKind} tokenizer, but {modelDir} has a {tokenizer.Kind} one");
        var backend = BackendFactory.Create(device, precision, n => notices.WriteLine(n));
        var weights = ModelFolder.LoadWeights(backend, modelDir);
        var model = AdapterFile.Load(contents, new Encoder(backend, weights), backboneFingerprint: null);   // checked above
        return new AdapterSession { Backend = backend, Weights = weights, Model = model, Metadata = meta, Tokenizer = tokenizer };
    }

    /// <summary>--adapter: a file, or a folder (a train --output) holding adapter.safetensors.</summary>
    public static string ResolveAdapter(string path)
    {
        if (Directory.Exists(path))
        {
            string inside = Path.Combine(path, TrainCommand.AdapterFileName);
            return File.Exists(inside) ? inside : throw new UserInputException($"--adapter {path} is a folder without {TrainCommand.AdapterFileName}");
        }
        return File.Exists(path) ? path : throw new UserInputException($"--adapter {path}: adapter file not found");
    }

    /// <summary>Encoding as at training time (max length, QA doc stride and SQuAD version recorded in the adapter).</summary>
    public TaskDataOptions DataOptions(IReadOnlyList<string>? textFields, string? labelField, bool squadV2)
    {
        var recorded = TaskDataOptions.ForAdapter(Metadata, Model.Config);
        return recorded with { TextFields = textFields, LabelField = labelField, SquadV2 = squadV2 || recorded.SquadV2 };
    }

    public IReadOnlyList<string>? Labels => Metadata.Labels.Count > 0 ? Metadata.Labels : null;

    public void Dispose() { Model.Dispose(); Weights.Dispose(); Backend.Dispose(); }
}
