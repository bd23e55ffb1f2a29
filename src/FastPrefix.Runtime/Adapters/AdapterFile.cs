using System.Text.Json;
using FastPrefix.IO;
using FastPrefix.Model;
using FastPrefix.Model.Heads;

namespace FastPrefix.Adapters;

/// <summary>What an adapter file holds: its metadata and every trainable tensor (host float32), validated.</summary>
public sealed class AdapterContents
{
    /// <summary>Full path of the file read (or a description of where the tensors came from).</summary>
    public required string Source { get; init; }
    public required AdapterMetadata Metadata { get; init; }
    /// <summary>Tensor name (the <see cref="Parameter.Name"/> it loads into) → shape and row-major values.</summary>
    public required IReadOnlyDictionary<string, (long[] Shape, float[] Data)> Tensors { get; init; }
    /// <summary>The backbone config recorded in the metadata.</summary>
    public required EncoderConfig BaseConfig { get; init; }
    /// <summary>Outputs of the task head: number of labels (classification), 2 (QA), 1 (multiple choice).</summary>
    public required int HeadOutputs { get; init; }
}

/// <summary>
/// FastPrefix adapter files: one .safetensors holding every trainable tensor of a <see cref="PTuningModel"/>
/// (F32, named as the model's <see cref="Parameter"/>s: "prefix" or "prefix_encoder.*", then "classifier.*" or
/// "qa_outputs.*") and <see cref="AdapterMetadata"/> in <c>__metadata__</c>. Files are written atomically and
/// byte-for-byte deterministically (same model and metadata, same bytes).
/// </summary>
public static class AdapterFile
{
    /// <summary>Writes the adapter of <paramref name="model"/>; the metadata must describe the model (see <see cref="AdapterMetadata.FromModel"/>).</summary>
    public static void Save(string path, PTuningModel model, AdapterMetadata meta)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(meta);
        string full = Path.GetFullPath(path);
        CheckSingleTask(full, model);
        CheckDescribes(full, model, meta);
        var metadata = meta.ToDictionary(full);
        var entries = model.Parameters.Select(p => SafetensorsEntry.FromFloat32(p.Name, p.Download(), Array.ConvertAll(p.Shape, d => (long)d)));
        SafetensorsWriter.Write(full, entries, metadata);
    }

    /// <summary>Reads and validates an adapter file without loading it anywhere.</summary>
    public static AdapterContents Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        SafetensorsFile file;
        try { file = SafetensorsFile.Open(full); }
        catch (SafetensorsException e) { throw new AdapterException($"cannot read adapter: {e.Message}", e); }
        using (file)
        {
            var meta = AdapterMetadata.Parse(file.Metadata, full);
            var tensors = new Dictionary<string, (long[] Shape, float[] Data)>(StringComparer.Ordinal);
            foreach (var info in file.Tensors)
            {
                if (!SafetensorsDTypes.IsFloat(info.DType))
                    throw new AdapterException($"{full}: tensor '{info.Name}' has dtype {SafetensorsDTypes.ToName(info.DType)}; expected F32 (or another float dtype)");
                tensors[info.Name] = ((long[])info.Shape.Clone(), file.ReadFloat32(info.Name));
            }
            return Validate(full, meta, tensors);
        }
    }

    /// <summary>
    /// Reads an adapter and builds its model on <paramref name="encoder"/>: the prefix (plain or MLP) and head the
    /// metadata records, with the file's values. The backbone must have the recorded config, and when both the
    /// adapter and <paramref name="backboneFingerprint"/> are known they must match (<see cref="BackboneFingerprint"/>).
    /// Positions always come from the file (they are part of what was trained); <paramref name="overrides"/> sets the rest
    /// (dropout probabilities).
    /// </summary>
    public static PTuningModel Load(string path, Encoder encoder, string? backboneFingerprint, PTuningOptions? overrides = null)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        return Load(Read(path), encoder, backboneFingerprint, overrides);
    }

    /// <summary>As <see cref="Load(string, Encoder, string?, PTuningOptions?)"/>, for contents already read (no second read of the file).</summary>
    public static PTuningModel Load(AdapterContents contents, Encoder encoder, string? backboneFingerprint, PTuningOptions? overrides = null)
    {
        ArgumentNullException.ThrowIfNull(contents);
        ArgumentNullException.ThrowIfNull(encoder);
        CheckBackbone(contents.Source, contents.Metadata.BaseModelConfig, encoder.Config, contents.Metadata.BaseModelFingerprint, backboneFingerprint);
        return Build(contents, encoder, overrides);
    }

    // ---- shared with the PEFT import/export ----

    /// <summary>Module name of the head's parameters: "classifier" or "qa_outputs".</summary>
    internal static string HeadModule(TaskKind kind) => kind == TaskKind.QuestionAnswering ? "qa_outputs" : "classifier";

    /// <summary>Checks the tensors against the metadata (every expected tensor present, no other, shapes as the config says).</summary>
    internal static AdapterContents Validate(string source, AdapterMetadata meta, IReadOnlyDictionary<string, (long[] Shape, float[] Data)> tensors)
    {
        var config = meta.ParseBaseModelConfig(source);
        int C = config.HiddenSize, H = config.NumHeads, D = config.HeadDim, P = meta.PrefixLength, L = config.NumLayers - meta.FirstLayer;
        string head = HeadModule(meta.Task);
        int outputs = meta.Task switch
        {
            TaskKind.QuestionAnswering => 2,
            TaskKind.MultipleChoice => 1,
            _ => ClassCount(source, meta, tensors, head + ".weight", C),
        };

        var expected = new List<(string Name, long[] Shape, string Why)>();
        string layers = $"layers {L} = num_hidden_layers {config.NumLayers} - first_layer {meta.FirstLayer}";
        if (meta.Reparameterization == PrefixReparameterization.None)
            expected.Add(("prefix", [L, 2, H, P, D], $"[layers, key/value, heads, prefix_length, head_dim]: {layers}, heads {H}, prefix_length {P}, head_dim {D}"));
        else
        {
            int h = meta.PrefixProjectionHidden;
            long width = (long)L * 2 * C;
            expected.Add(("prefix_encoder.embedding.weight", [P, C], $"[prefix_length {P}, hidden_size {C}]"));
            expected.Add(("prefix_encoder.trans.0.weight", [h, C], $"[prefix_projection_hidden {h}, hidden_size {C}]"));
            expected.Add(("prefix_encoder.trans.0.bias", [h], $"[prefix_projection_hidden {h}]"));
            expected.Add(("prefix_encoder.trans.2.weight", [width, h], $"[layers·2·hidden_size {width}, prefix_projection_hidden {h}] with {layers}"));
            expected.Add(("prefix_encoder.trans.2.bias", [width], $"[layers·2·hidden_size {width}] with {layers}"));
        }
        string outputsWhy = meta.Task switch
        {
            TaskKind.QuestionAnswering => "2 outputs (start, end)",
            TaskKind.MultipleChoice => "1 output (the choice's score)",
            _ => $"{outputs} labels",
        };
        expected.Add((head + ".weight", [outputs, C], $"[{outputsWhy}, hidden_size {C}]"));
        expected.Add((head + ".bias", [outputs], $"[{outputsWhy}]"));

        string reparam = AdapterMetadata.ReparameterizationName(meta.Reparameterization);
        string task = AdapterMetadata.TaskName(meta.Task);
        foreach (var (name, shape, why) in expected)
        {
            if (!tensors.TryGetValue(name, out var t))
                throw new AdapterException($"{source}: tensor '{name}' is missing; an adapter with reparameterization \"{reparam}\" and task \"{task}\" " +
                                           $"needs {string.Join(", ", expected.Select(e => e.Name))}");
            if (!t.Shape.AsSpan().SequenceEqual(shape))
                throw new AdapterException($"{source}: tensor '{name}' has shape {ShapeText(t.Shape)}, expected {ShapeText(shape)} ({why})");
        }
        var unexpected = tensors.Keys.Where(k => !expected.Any(e => e.Name == k)).Order(StringComparer.Ordinal).ToList();
        if (unexpected.Count > 0)
            throw new AdapterException($"{source}: unexpected tensor{(unexpected.Count > 1 ? "s" : "")} {string.Join(", ", unexpected.Select(u => $"'{u}'"))}; " +
                                       $"an adapter with reparameterization \"{reparam}\" and task \"{task}\" holds exactly {string.Join(", ", expected.Select(e => e.Name))}");
        return new AdapterContents { Source = source, Metadata = meta, Tensors = tensors, BaseConfig = config, HeadOutputs = outputs };
    }

    static int ClassCount(string source, AdapterMetadata meta, IReadOnlyDictionary<string, (long[] Shape, float[] Data)> tensors, string weight, int hidden)
    {
        if (!tensors.TryGetValue(weight, out var w))
            throw new AdapterException($"{source}: tensor '{weight}' is missing; a \"{AdapterMetadata.TaskName(meta.Task)}\" adapter needs the classifier [labels, hidden_size {hidden}]");
        if (w.Shape.Length != 2 || w.Shape[0] <= 0 || w.Shape[0] > int.MaxValue || w.Shape[1] != hidden)
            throw new AdapterException($"{source}: tensor '{weight}' has shape {ShapeText(w.Shape)}, expected [labels, hidden_size {hidden}] with at least one label");
        int n = (int)w.Shape[0];
        if (meta.Labels.Count != 0 && meta.Labels.Count != n)
            throw new AdapterException($"{source}: metadata '{AdapterMetadata.Keys.Labels}' names {meta.Labels.Count} labels but tensor '{weight}' " +
                                       $"has {n} rows (shape {ShapeText(w.Shape)}); expected one row per label");
        return n;
    }

    /// <summary>
    /// The adapter's backbone config (and fingerprint, when both known) against the model's; a mismatch names the fields.
    /// Together with <see cref="AdapterMetadata.Validate"/> (lengths against the recorded backbone's positions) this is the
    /// check of an adapter's metadata against the backbone it is loaded onto; it needs no weights loaded.
    /// </summary>
    public static void CheckBackbone(string source, string adapterConfigJson, EncoderConfig model, string? adapterFingerprint, string? modelFingerprint)
    {
        var diffs = ConfigDifferences(adapterConfigJson, model.ToCanonicalJson());
        if (diffs.Count > 0)
            throw new AdapterException($"{source}: the adapter was trained on another backbone: {string.Join(", ", diffs)}");
        if (!string.IsNullOrEmpty(adapterFingerprint) && !string.IsNullOrEmpty(modelFingerprint)
            && !string.Equals(adapterFingerprint, modelFingerprint, StringComparison.OrdinalIgnoreCase))
            throw new AdapterException($"{source}: the adapter was trained on another checkpoint of the same architecture: " +
                                       $"backbone fingerprint {adapterFingerprint} (adapter) vs {modelFingerprint} (model)");
    }

    /// <summary>"hidden_size 768 (adapter) vs 1024 (model)" for every field of the canonical configs that differs.</summary>
    internal static List<string> ConfigDifferences(string adapterJson, string modelJson)
    {
        var a = Fields(adapterJson);
        var m = Fields(modelJson);
        var result = new List<string>();
        foreach (var key in a.Keys.Union(m.Keys).Order(StringComparer.Ordinal))
        {
            a.TryGetValue(key, out var av);
            m.TryGetValue(key, out var mv);
            if (av != mv) result.Add($"{key} {av ?? "(absent)"} (adapter) vs {mv ?? "(absent)"} (model)");
        }
        return result;
    }

    static Dictionary<string, string> Fields(string json)
    {
        using var doc = StrictJson.Parse(json, p => new AdapterException($"backbone config JSON is not valid: {p.WithPath}"));
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in doc.RootElement.EnumerateObject())
            d[p.Name] = p.Value.ValueKind switch
            {
                JsonValueKind.String => p.Value.GetString()!,
                JsonValueKind.Number => p.Value.TryGetInt64(out long i) ? i.ToString(System.Globalization.CultureInfo.InvariantCulture)
                    : ((float)p.Value.GetDouble()).ToString("R", System.Globalization.CultureInfo.InvariantCulture),
                _ => p.Value.GetRawText(),
            };
        return d;
    }

    /// <summary>Builds the model the (validated) contents describe on <paramref name="encoder"/> and uploads the values.</summary>
    internal static PTuningModel Build(AdapterContents contents, Encoder encoder, PTuningOptions? overrides)
    {
        var meta = contents.Metadata;
        var backend = encoder.Backend;
        var config = encoder.Config;
        Prefix? prefix = null;
        TaskHead? head = null;
        try
        {
            prefix = meta.Reparameterization == PrefixReparameterization.Mlp
                ? new MlpPrefix(backend, config, meta.PrefixLength, meta.PrefixProjectionHidden, meta.FirstLayer)
                : new PlainPrefix(backend, config, meta.PrefixLength, meta.FirstLayer);
            head = TaskHead.Create(meta.Task, backend, config, contents.HeadOutputs);
            var options = (overrides ?? new PTuningOptions()) with { Positions = meta.Positions };
            var model = new PTuningModel(encoder, prefix, head, options);
            foreach (var p in model.Parameters)
            {
                if (!contents.Tensors.TryGetValue(p.Name, out var t))
                    throw new AdapterException($"{contents.Source}: tensor '{p.Name}' is missing");
                p.Upload(t.Data);
            }
            return model;
        }
        catch
        {
            prefix?.Dispose();
            head?.Dispose();
            throw;
        }
    }

    internal static void CheckSingleTask(string target, PTuningModel model)
    {
        if (model.Prefix.Adapters != 1 || model.Head.Tasks != 1)
            throw new AdapterException($"{target}: an adapter holds one task's prefix and head, but this model has a bank of " +
                                       $"{model.Prefix.Adapters} prefixes and {model.Head.Tasks} heads; save each task on its own");
    }

    /// <summary>The metadata's structural fields must be the model's (so the file loads back into the same model).</summary>
    internal static void CheckDescribes(string target, PTuningModel model, AdapterMetadata meta)
    {
        var actual = AdapterMetadata.FromModel(model);
        var diffs = ConfigDifferences(meta.BaseModelConfig, actual.BaseModelConfig);
        if (diffs.Count > 0)
            throw new AdapterException($"{target}: metadata '{AdapterMetadata.Keys.BaseModelConfig}' is not the model's backbone config: {string.Join(", ", diffs)}");
        void Same<T>(string key, T recorded, T model, Func<T, string> text)
        {
            if (!EqualityComparer<T>.Default.Equals(recorded, model))
                throw new AdapterException($"{target}: metadata '{key}' is {text(recorded)} but the model has {text(model)}; build it with AdapterMetadata.FromModel");
        }
        Same(AdapterMetadata.Keys.Task, meta.Task, actual.Task, AdapterMetadata.TaskName);
        Same(AdapterMetadata.Keys.PrefixLength, meta.PrefixLength, actual.PrefixLength, v => v.ToString());
        Same(AdapterMetadata.Keys.FirstLayer, meta.FirstLayer, actual.FirstLayer, v => v.ToString());
        Same(AdapterMetadata.Keys.Positions, meta.Positions, actual.Positions, AdapterMetadata.PositionsName);
        Same(AdapterMetadata.Keys.Reparameterization, meta.Reparameterization, actual.Reparameterization, AdapterMetadata.ReparameterizationName);
        Same(AdapterMetadata.Keys.PrefixProjectionHidden, meta.PrefixProjectionHidden, actual.PrefixProjectionHidden, v => v.ToString());
        if (model.Head.Kind is TaskKind.SequenceClassification or TaskKind.TokenClassification
            && meta.Labels.Count != 0 && meta.Labels.Count != model.Head.Outputs)
            throw new AdapterException($"{target}: metadata '{AdapterMetadata.Keys.Labels}' names {meta.Labels.Count} labels but the model's head has {model.Head.Outputs} outputs");
    }

    internal static string ShapeText(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}
