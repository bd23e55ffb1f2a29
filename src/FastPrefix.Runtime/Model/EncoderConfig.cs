using System.Text.Json;
using FastPrefix.IO;

namespace FastPrefix.Model;

/// <summary>The frozen encoder's hyperparameters, read from a Hugging Face config.json.</summary>
public sealed record EncoderConfig
{
    public static readonly IReadOnlyList<string> SupportedModelTypes = ["bert", "roberta"];

    public string ModelType { get; init; } = "bert";
    public int VocabSize { get; init; }
    public int HiddenSize { get; init; }
    public int NumLayers { get; init; }
    public int NumHeads { get; init; }
    public int IntermediateSize { get; init; }
    public int MaxPositionEmbeddings { get; init; }
    public int TypeVocabSize { get; init; } = 2;
    public float LayerNormEps { get; init; } = 1e-12f;
    public float HiddenDropout { get; init; } = 0.1f;
    public float AttentionDropout { get; init; } = 0.1f;
    public int PadTokenId { get; init; }
    public string HiddenAct { get; init; } = "gelu";

    public int HeadDim => HiddenSize / NumHeads;
    public bool IsRoberta => ModelType == "roberta";

    /// <summary>Reads and validates config.json; every problem names the file and the field.</summary>
    public static EncoderConfig Load(string path)
    {
        if (!File.Exists(path)) throw new ModelFormatException($"{path}: config.json not found");
        using var doc = StrictJson.ParseFile(path, p => new ModelFormatException($"{path}{(p.Line is int l ? $":{l}" : "")}: {p.WithPath}"));
        return FromJson(doc.RootElement, path);
    }

    public static EncoderConfig FromJson(JsonElement root, string source)
    {
        if (root.ValueKind != JsonValueKind.Object) throw new ModelFormatException($"{source}: config must be a JSON object");
        string type = GetString(root, "model_type", source, null)
            ?? throw new ModelFormatException($"{source}: missing \"model_type\" (supported: {string.Join(", ", SupportedModelTypes)})");
        if (!SupportedModelTypes.Contains(type))
            throw new ModelFormatException($"{source}: model_type \"{type}\" is not supported (supported: {string.Join(", ", SupportedModelTypes)})");
        var c = new EncoderConfig
        {
            ModelType = type,
            VocabSize = GetInt(root, "vocab_size", source, null),
            HiddenSize = GetInt(root, "hidden_size", source, null),
            NumLayers = GetInt(root, "num_hidden_layers", source, null),
            NumHeads = GetInt(root, "num_attention_heads", source, null),
            IntermediateSize = GetInt(root, "intermediate_size", source, null),
            MaxPositionEmbeddings = GetInt(root, "max_position_embeddings", source, 512),
            TypeVocabSize = GetInt(root, "type_vocab_size", source, 2),
            LayerNormEps = (float)GetDouble(root, "layer_norm_eps", source, 1e-12),
            HiddenDropout = (float)GetDouble(root, "hidden_dropout_prob", source, 0.1),
            AttentionDropout = (float)GetDouble(root, "attention_probs_dropout_prob", source, 0.1),
            PadTokenId = GetInt(root, "pad_token_id", source, type == "roberta" ? 1 : 0),
            HiddenAct = GetString(root, "hidden_act", source, "gelu")!,
        };
        c.Validate(source);
        return c;
    }

    public void Validate(string source)
    {
        void Positive(int v, string name) { if (v <= 0) throw new ModelFormatException($"{source}: \"{name}\" must be positive, got {v}"); }
        Positive(VocabSize, "vocab_size"); Positive(HiddenSize, "hidden_size"); Positive(NumLayers, "num_hidden_layers");
        Positive(NumHeads, "num_attention_heads"); Positive(IntermediateSize, "intermediate_size");
        Positive(MaxPositionEmbeddings, "max_position_embeddings"); Positive(TypeVocabSize, "type_vocab_size");
        if (HiddenSize % NumHeads != 0)
            throw new ModelFormatException($"{source}: hidden_size {HiddenSize} is not a multiple of num_attention_heads {NumHeads}");
        if (HiddenAct != "gelu")
            throw new ModelFormatException($"{source}: hidden_act \"{HiddenAct}\" is not supported (supported: gelu, the exact erf form)");
        if (HiddenDropout is < 0 or >= 1) throw new ModelFormatException($"{source}: hidden_dropout_prob must be in [0, 1), got {HiddenDropout}");
        if (AttentionDropout is < 0 or >= 1) throw new ModelFormatException($"{source}: attention_probs_dropout_prob must be in [0, 1), got {AttentionDropout}");
        if (!(LayerNormEps > 0)) throw new ModelFormatException($"{source}: layer_norm_eps must be positive");
    }

    /// <summary>
    /// Longest input, in tokens with the special ones, that the position table can number: RoBERTa's positions start
    /// after padding_idx, and with <see cref="PositionMode.AfterPrefix"/> the prefix takes the first
    /// <paramref name="prefixLen"/> positions.
    /// </summary>
    public long MaxInputTokens(PositionMode positions, int prefixLen) =>
        (long)MaxPositionEmbeddings - (IsRoberta ? PadTokenId + 1L : 0) - (positions == PositionMode.AfterPrefix ? prefixLen : 0);

    /// <summary>How <see cref="MaxInputTokens"/> is reached, for messages: "max_position_embeddings 64 - 20 prefix positions (after-prefix) = 44".</summary>
    public string MaxInputTokensText(PositionMode positions, int prefixLen)
    {
        var text = $"max_position_embeddings {MaxPositionEmbeddings}";
        if (IsRoberta) text += $" - {PadTokenId + 1} (RoBERTa numbers tokens from padding_idx {PadTokenId} + 1)";
        if (positions == PositionMode.AfterPrefix) text += $" - {prefixLen} prefix positions (positions after-prefix number tokens after the prefix)";
        return $"{text} = {MaxInputTokens(positions, prefixLen)}";
    }

    /// <summary>The JSON written into adapter metadata to fingerprint the backbone.</summary>
    public string ToCanonicalJson() => JsonSerializer.Serialize(new SortedDictionary<string, object>
    {
        ["model_type"] = ModelType, ["vocab_size"] = VocabSize, ["hidden_size"] = HiddenSize, ["num_hidden_layers"] = NumLayers,
        ["num_attention_heads"] = NumHeads, ["intermediate_size"] = IntermediateSize, ["max_position_embeddings"] = MaxPositionEmbeddings,
        ["type_vocab_size"] = TypeVocabSize, ["layer_norm_eps"] = LayerNormEps, ["pad_token_id"] = PadTokenId, ["hidden_act"] = HiddenAct,
    });

    static JsonElement? Find(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    static int GetInt(JsonElement root, string name, string source, int? fallback)
    {
        var v = Find(root, name);
        if (v == null) return fallback ?? throw new ModelFormatException($"{source}: missing \"{name}\" (an integer)");
        if (v.Value.ValueKind != JsonValueKind.Number || !v.Value.TryGetInt32(out int i))
            throw new ModelFormatException($"{source}: \"{name}\" must be an integer, got {v.Value.GetRawText()}");
        return i;
    }

    static double GetDouble(JsonElement root, string name, string source, double fallback)
    {
        var v = Find(root, name);
        if (v == null) return fallback;
        if (v.Value.ValueKind != JsonValueKind.Number) throw new ModelFormatException($"{source}: \"{name}\" must be a number, got {v.Value.GetRawText()}");
        return v.Value.GetDouble();
    }

    static string? GetString(JsonElement root, string name, string source, string? fallback)
    {
        var v = Find(root, name);
        if (v == null) return fallback;
        if (v.Value.ValueKind != JsonValueKind.String) throw new ModelFormatException($"{source}: \"{name}\" must be a string, got {v.Value.GetRawText()}");
        return v.Value.GetString();
    }
}

/// <summary>A model folder, config or checkpoint is not what the engine expects; the message says where and what.</summary>
public sealed class ModelFormatException(string message) : Exception(message);
