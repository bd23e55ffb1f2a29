using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using FastPrefix.IO;
using FastPrefix.Model;
using FastPrefix.Model.Heads;

namespace FastPrefix.Adapters;

/// <summary>How the prefix bank is produced from the trained tensors.</summary>
public enum PrefixReparameterization
{
    /// <summary>The bank itself is trained (one tensor "prefix").</summary>
    None,
    /// <summary>P-Tuning v2's prefix_projection: an embedding through a two-layer tanh MLP.</summary>
    Mlp,
}

/// <summary>
/// What an adapter file records besides its tensors: the backbone it was trained on, the task and labels,
/// the prefix's shape and how positions are numbered. Stored as safetensors <c>__metadata__</c> strings,
/// every key prefixed "fastprefix." (e.g. "fastprefix.task"); extra pairs go under "fastprefix.extra.".
/// </summary>
public sealed record AdapterMetadata
{
    public const string CurrentFormatVersion = "1";
    public const string KeyPrefix = "fastprefix.";
    public const string ExtraKeyPrefix = "fastprefix.extra.";

    /// <summary>The metadata keys, as written in files.</summary>
    public static class Keys
    {
        public const string FormatVersion = "fastprefix.format_version";
        public const string BaseModelConfig = "fastprefix.base_model_config";
        public const string BaseModelFingerprint = "fastprefix.base_model_fingerprint";
        public const string Task = "fastprefix.task";
        public const string Labels = "fastprefix.labels";
        public const string PrefixLength = "fastprefix.prefix_length";
        public const string FirstLayer = "fastprefix.first_layer";
        public const string Positions = "fastprefix.positions";
        public const string Reparameterization = "fastprefix.reparameterization";
        public const string PrefixProjectionHidden = "fastprefix.prefix_projection_hidden";
        public const string MaxSeqLength = "fastprefix.max_seq_length";
        public const string TokenizerKind = "fastprefix.tokenizer_kind";

        public static IReadOnlyList<string> All { get; } =
        [
            FormatVersion, BaseModelConfig, BaseModelFingerprint, Task, Labels, PrefixLength, FirstLayer,
            Positions, Reparameterization, PrefixProjectionHidden, MaxSeqLength, TokenizerKind,
        ];
    }

    /// <summary>"1".</summary>
    public string FormatVersion { get; init; } = CurrentFormatVersion;
    /// <summary>The backbone's <see cref="EncoderConfig.ToCanonicalJson"/>.</summary>
    public required string BaseModelConfig { get; init; }
    /// <summary>Content hash of the backbone weights ("xxh128:…"; a bare SHA-256 of the header in older adapters), or "" when unknown; see <see cref="Adapters.BackboneFingerprint"/>.</summary>
    public string BaseModelFingerprint { get; init; } = "";
    public required TaskKind Task { get; init; }
    /// <summary>Label names in class-index order (sequence/token classification); empty when not known or not applicable.</summary>
    public IReadOnlyList<string> Labels { get; init; } = [];
    public required int PrefixLength { get; init; }
    public int FirstLayer { get; init; }
    public PositionMode Positions { get; init; } = PositionMode.FromZero;
    public PrefixReparameterization Reparameterization { get; init; } = PrefixReparameterization.None;
    /// <summary>Hidden size of the MLP reparameterisation; 0 when there is none.</summary>
    public int PrefixProjectionHidden { get; init; }
    /// <summary>Longest input (tokens) used in training; 0 when unknown.</summary>
    public int MaxSeqLength { get; init; }
    /// <summary>"wordpiece", "bpe", or "" when unknown.</summary>
    public string TokenizerKind { get; init; } = "";
    /// <summary>Free-form pairs, stored as "fastprefix.extra.&lt;name&gt;".</summary>
    public IReadOnlyDictionary<string, string> Extra { get; init; } = new Dictionary<string, string>();

    /// <summary>The metadata that describes <paramref name="model"/> as it is, plus the descriptive fields given.</summary>
    public static AdapterMetadata FromModel(PTuningModel model, IReadOnlyList<string>? labels = null, string? baseModelFingerprint = null,
        int maxSeqLength = 0, string tokenizerKind = "", IReadOnlyDictionary<string, string>? extra = null) => new()
    {
        BaseModelConfig = model.Config.ToCanonicalJson(),
        BaseModelFingerprint = baseModelFingerprint ?? "",
        Task = model.Head.Kind,
        Labels = labels ?? [],
        PrefixLength = model.Prefix.PrefixLen,
        FirstLayer = model.Prefix.FirstLayer,
        Positions = model.Options.Positions,
        Reparameterization = model.Prefix is MlpPrefix ? PrefixReparameterization.Mlp : PrefixReparameterization.None,
        PrefixProjectionHidden = (model.Prefix as MlpPrefix)?.ProjectionHidden ?? 0,
        MaxSeqLength = maxSeqLength,
        TokenizerKind = tokenizerKind,
        Extra = extra ?? new Dictionary<string, string>(),
    };

    /// <summary>
    /// The names of a classification head's outputs: <see cref="Labels"/>, or "0", "1", … when the adapter records none
    /// (a PEFT import without --labels); empty for QA and multiple choice.
    /// </summary>
    public IReadOnlyList<string> LabelNames(int outputs) =>
        Task is not (TaskKind.SequenceClassification or TaskKind.TokenClassification) ? []
        : Labels.Count > 0 ? Labels
        : Enumerable.Range(0, outputs).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();

    // ---- names of the enumerations in files ----

    static readonly (TaskKind Kind, string Name)[] TaskNames =
    [
        (TaskKind.SequenceClassification, "seqcls"), (TaskKind.TokenClassification, "tokcls"),
        (TaskKind.QuestionAnswering, "qa"), (TaskKind.MultipleChoice, "mc"),
    ];

    /// <summary>"seqcls", "tokcls", "qa" or "mc".</summary>
    public static string TaskName(TaskKind kind) =>
        TaskNames.First(t => t.Kind == kind).Name;

    public static bool TryParseTask(string? name, out TaskKind kind)
    {
        foreach (var t in TaskNames)
            if (t.Name == name) { kind = t.Kind; return true; }
        kind = default;
        return false;
    }

    /// <summary>"from-zero" or "after-prefix".</summary>
    public static string PositionsName(PositionMode mode) => mode switch
    {
        PositionMode.FromZero => "from-zero",
        PositionMode.AfterPrefix => "after-prefix",
        _ => throw new ArgumentOutOfRangeException(nameof(mode)),
    };

    public static bool TryParsePositions(string? name, out PositionMode mode)
    {
        switch (name)
        {
            case "from-zero": mode = PositionMode.FromZero; return true;
            case "after-prefix": mode = PositionMode.AfterPrefix; return true;
            default: mode = default; return false;
        }
    }

    /// <summary>"none" or "mlp".</summary>
    public static string ReparameterizationName(PrefixReparameterization r) => r switch
    {
        PrefixReparameterization.None => "none",
        PrefixReparameterization.Mlp => "mlp",
        _ => throw new ArgumentOutOfRangeException(nameof(r)),
    };

    static readonly string[] TokenizerKinds = ["", "wordpiece", "bpe"];

    // ---- to and from safetensors metadata ----

    static readonly JsonSerializerOptions LabelJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The string pairs written into the file's __metadata__ (checked first: see <see cref="Validate"/>).</summary>
    public IReadOnlyDictionary<string, string> ToDictionary(string source = "adapter metadata")
    {
        Validate(source);
        var d = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            [Keys.FormatVersion] = FormatVersion,
            [Keys.BaseModelConfig] = BaseModelConfig,
            [Keys.BaseModelFingerprint] = BaseModelFingerprint,
            [Keys.Task] = TaskName(Task),
            [Keys.Labels] = JsonSerializer.Serialize(Labels, LabelJson),
            [Keys.PrefixLength] = PrefixLength.ToString(CultureInfo.InvariantCulture),
            [Keys.FirstLayer] = FirstLayer.ToString(CultureInfo.InvariantCulture),
            [Keys.Positions] = PositionsName(Positions),
            [Keys.Reparameterization] = ReparameterizationName(Reparameterization),
            [Keys.PrefixProjectionHidden] = PrefixProjectionHidden.ToString(CultureInfo.InvariantCulture),
            [Keys.MaxSeqLength] = MaxSeqLength.ToString(CultureInfo.InvariantCulture),
            [Keys.TokenizerKind] = TokenizerKind,
        };
        foreach (var (name, value) in Extra) d[ExtraKeyPrefix + name] = value;
        return d;
    }

    /// <summary>The backbone config recorded in <see cref="BaseModelConfig"/>.</summary>
    public EncoderConfig ParseBaseModelConfig(string source = "adapter metadata")
    {
        using (var doc = StrictJson.Parse(BaseModelConfig, p => Bad(source, Keys.BaseModelConfig, $"is not valid: {p.WithPath}; expected the backbone config as a JSON object")))
        {
            try { return EncoderConfig.FromJson(doc.RootElement, $"{source}: metadata '{Keys.BaseModelConfig}'"); }
            catch (ModelFormatException e) { throw new AdapterException(e.Message, e); }
        }
    }

    /// <summary>Checks every field (ranges, consistency between them and with the recorded backbone config).</summary>
    public void Validate(string source = "adapter metadata")
    {
        if (FormatVersion != CurrentFormatVersion)
            throw Bad(source, Keys.FormatVersion, $"is \"{FormatVersion}\"; this FastPrefix reads format version {CurrentFormatVersion}");
        var config = ParseBaseModelConfig(source);
        if (!Adapters.BackboneFingerprint.IsWellFormed(BaseModelFingerprint))
            throw Bad(source, Keys.BaseModelFingerprint, $"is \"{BaseModelFingerprint}\"; expected \"{Adapters.BackboneFingerprint.ContentPrefix}\" and 32 lowercase hex digits, " +
                                                         "64 hex digits (the header hash of older adapters), or \"\" when unknown");
        if (!TaskNames.Any(t => t.Kind == Task)) throw Bad(source, Keys.Task, $"is {(int)Task}; expected a TaskKind");
        if (Labels.Any(l => l is null)) throw Bad(source, Keys.Labels, "contains a null label");
        var dup = Labels.GroupBy(l => l, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (dup != null) throw Bad(source, Keys.Labels, $"names \"{dup.Key}\" twice; label names must be distinct");
        if (PrefixLength <= 0) throw Bad(source, Keys.PrefixLength, $"is {PrefixLength}; expected a positive number of prefix positions");
        if (FirstLayer < 0 || FirstLayer >= config.NumLayers)
            throw Bad(source, Keys.FirstLayer, $"is {FirstLayer}; expected 0..{config.NumLayers - 1} (the backbone has {config.NumLayers} layers)");
        if (Positions is not (PositionMode.FromZero or PositionMode.AfterPrefix)) throw Bad(source, Keys.Positions, $"is {(int)Positions}; expected a PositionMode");
        if (Reparameterization == PrefixReparameterization.Mlp && PrefixProjectionHidden <= 0)
            throw Bad(source, Keys.PrefixProjectionHidden, $"is {PrefixProjectionHidden}; an \"mlp\" reparameterisation needs a positive hidden size");
        if (Reparameterization == PrefixReparameterization.None && PrefixProjectionHidden != 0)
            throw Bad(source, Keys.PrefixProjectionHidden, $"is {PrefixProjectionHidden}; expected 0 with reparameterization \"none\"");
        if (Reparameterization is not (PrefixReparameterization.None or PrefixReparameterization.Mlp))
            throw Bad(source, Keys.Reparameterization, $"is {(int)Reparameterization}; expected none or mlp");
        if (MaxSeqLength < 0) throw Bad(source, Keys.MaxSeqLength, $"is {MaxSeqLength}; expected a token count, or 0 when unknown");
        if (MaxSeqLength > config.MaxInputTokens(Positions, PrefixLength))
            throw Bad(source, Keys.MaxSeqLength, $"is {MaxSeqLength}, more tokens than the backbone's positions allow: {config.MaxInputTokensText(Positions, PrefixLength)}");
        if (!TokenizerKinds.Contains(TokenizerKind))
            throw Bad(source, Keys.TokenizerKind, $"is \"{TokenizerKind}\"; expected \"wordpiece\", \"bpe\" or \"\" (unknown)");
        foreach (var (name, value) in Extra)
        {
            if (string.IsNullOrEmpty(name)) throw Bad(source, ExtraKeyPrefix + "*", "has an empty name; extra pairs need a name");
            if (value is null) throw Bad(source, ExtraKeyPrefix + name, "is null; extra values must be strings");
        }
    }

    /// <summary>
    /// Reads the "fastprefix." keys of a safetensors __metadata__ (other keys are ignored). Every problem is an
    /// <see cref="AdapterException"/> naming <paramref name="source"/> (the file), the key and what was expected.
    /// </summary>
    public static AdapterMetadata Parse(IReadOnlyDictionary<string, string> metadata, string source)
    {
        if (!metadata.Keys.Any(k => k.StartsWith(KeyPrefix, StringComparison.Ordinal)))
            throw new AdapterException($"{source}: no FastPrefix adapter metadata (no '{KeyPrefix}*' keys in __metadata__); " +
                                       "expected a file written by AdapterFile.Save (a PEFT adapter folder is read by PeftPrefixAdapter.Import)");

        string Get(string key, string expected) =>
            metadata.TryGetValue(key, out var v) ? v : throw Bad(source, key, $"is missing; expected {expected}");

        int Int(string key, string expected)
        {
            var s = Get(key, expected);
            if (!int.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int v))
                throw Bad(source, key, $"is \"{s}\"; expected {expected}");
            return v;
        }

        var version = Get(Keys.FormatVersion, $"\"{CurrentFormatVersion}\"");
        if (version != CurrentFormatVersion)
            throw Bad(source, Keys.FormatVersion, $"is \"{version}\"; this FastPrefix reads format version {CurrentFormatVersion}");
        var taskText = Get(Keys.Task, "the task: seqcls, tokcls, qa or mc");
        if (!TryParseTask(taskText, out var task))
            throw Bad(source, Keys.Task, $"is \"{taskText}\"; expected one of seqcls, tokcls, qa, mc");
        var posText = Get(Keys.Positions, "from-zero or after-prefix");
        if (!TryParsePositions(posText, out var positions))
            throw Bad(source, Keys.Positions, $"is \"{posText}\"; expected from-zero or after-prefix");
        var repText = Get(Keys.Reparameterization, "none or mlp");
        var rep = repText switch
        {
            "none" => PrefixReparameterization.None,
            "mlp" => PrefixReparameterization.Mlp,
            _ => throw Bad(source, Keys.Reparameterization, $"is \"{repText}\"; expected none or mlp"),
        };
        var labelsText = Get(Keys.Labels, "a JSON array of label names");
        var labels = ParseLabels(labelsText, source);

        var extra = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in metadata)
            if (key.StartsWith(ExtraKeyPrefix, StringComparison.Ordinal)) extra[key[ExtraKeyPrefix.Length..]] = value;

        var meta = new AdapterMetadata
        {
            FormatVersion = version,
            BaseModelConfig = Get(Keys.BaseModelConfig, "the backbone config as JSON"),
            BaseModelFingerprint = Get(Keys.BaseModelFingerprint, "a SHA-256 hex digest, or \"\" when unknown"),
            Task = task,
            Labels = labels,
            PrefixLength = Int(Keys.PrefixLength, "a positive integer"),
            FirstLayer = Int(Keys.FirstLayer, "an integer layer index"),
            Positions = positions,
            Reparameterization = rep,
            PrefixProjectionHidden = Int(Keys.PrefixProjectionHidden, "an integer (0 when there is no MLP)"),
            MaxSeqLength = Int(Keys.MaxSeqLength, "an integer (0 when unknown)"),
            TokenizerKind = Get(Keys.TokenizerKind, "wordpiece, bpe or \"\""),
            Extra = extra,
        };
        meta.Validate(source);
        return meta;
    }

    static List<string> ParseLabels(string text, string source)
    {
        AdapterException NotStrings() => Bad(source, Keys.Labels, $"is {Quote(text)}; expected a JSON array of strings, e.g. [\"neg\", \"pos\"] ([] when none)");
        using var doc = StrictJson.Parse(text, p => Bad(source, Keys.Labels, $"is not valid: {p.WithPath}; expected a JSON array of strings"));
        if (doc.RootElement.ValueKind != JsonValueKind.Array) throw NotStrings();
        var labels = new List<string>();
        foreach (var e in doc.RootElement.EnumerateArray())
            labels.Add(e.ValueKind == JsonValueKind.String ? e.GetString()! : throw NotStrings());
        return labels;
    }

    internal static AdapterException Bad(string source, string key, string problem) =>
        new($"{source}: metadata '{key}' {problem}");

    static string Quote(string s) => s.Length > 80 ? $"\"{s[..77]}...\"" : $"\"{s}\"";

}
