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

    public static AdapterSession Open(string modelDir, string adapterPath, string device, TextWriter notices)
    {
        ModelFolder.Check(modelDir);
        if (!File.Exists(adapterPath)) throw new UserInputException($"{adapterPath}: adapter file not found");
        var tokenizer = TokenizerFactory.FromFolder(modelDir);
        var backend = BackendFactory.Create(device, n => notices.WriteLine(n));
        var weights = ModelFolder.LoadWeights(backend, modelDir);
        var contents = AdapterFile.Read(adapterPath);
        var model = AdapterFile.Load(contents, new Encoder(backend, weights), BackboneFingerprint.OfFolder(modelDir));
        var meta = contents.Metadata;
        if (meta.TokenizerKind.Length > 0 && meta.TokenizerKind != tokenizer.Kind)
            throw new UserInputException($"{adapterPath}: trained with a {meta.TokenizerKind} tokenizer, but {modelDir} has a {tokenizer.Kind} one");
        return new AdapterSession { Backend = backend, Weights = weights, Model = model, Metadata = meta, Tokenizer = tokenizer };
    }

    /// <summary>Encoding as at training time (max length, QA doc stride and SQuAD version recorded in the adapter).</summary>
    public TaskDataOptions DataOptions(IReadOnlyList<string>? textFields, string? labelField, bool squadV2)
    {
        var recorded = TaskDataOptions.ForAdapter(Metadata);
        return recorded with { TextFields = textFields, LabelField = labelField, SquadV2 = squadV2 || recorded.SquadV2 };
    }

    public IReadOnlyList<string>? Labels => Metadata.Labels.Count > 0 ? Metadata.Labels : null;

    public void Dispose() { Model.Dispose(); Weights.Dispose(); Backend.Dispose(); }
}
