using FastPrefix.Backends;

namespace FastPrefix.Model;

/// <summary>
/// The frozen backbone on one backend. Query, key and value are fused into one (3C, C) matrix at load
/// so the projection is a single GEMM. Nothing here ever receives a gradient.
/// </summary>
public sealed class EncoderWeights : IDisposable
{
    public required EncoderConfig Config { get; init; }
    public required Tensor WordEmbeddings { get; init; }      // (V, C)
    public required Tensor PositionEmbeddings { get; init; }  // (maxPos, C)
    public required Tensor TokenTypeEmbeddings { get; init; } // (types, C)
    public required Tensor EmbeddingNormWeight { get; init; }
    public required Tensor EmbeddingNormBias { get; init; }
    public required IReadOnlyList<LayerWeights> Layers { get; init; }
    /// <summary>Pooler (C, C) and bias; null when the checkpoint has none (heads on the pooled output then refuse).</summary>
    public Tensor? PoolerWeight { get; init; }
    public Tensor? PoolerBias { get; init; }
    /// <summary>The name prefix found in the checkpoint ("", "bert." or "roberta.").</summary>
    public string NamePrefix { get; init; } = "";

    public sealed class LayerWeights
    {
        public required Tensor QkvWeight { get; init; }   // (3C, C): query rows, then key, then value
        public required Tensor QkvBias { get; init; }     // (3C)
        public required Tensor OutWeight { get; init; }   // (C, C)
        public required Tensor OutBias { get; init; }
        public required Tensor Norm1Weight { get; init; }
        public required Tensor Norm1Bias { get; init; }
        public required Tensor UpWeight { get; init; }    // (I, C)
        public required Tensor UpBias { get; init; }
        public required Tensor DownWeight { get; init; }  // (C, I)
        public required Tensor DownBias { get; init; }
        public required Tensor Norm2Weight { get; init; }
        public required Tensor Norm2Bias { get; init; }
    }

    /// <summary>Checks every tensor against the config first (<see cref="CheckpointLayout"/>: a missing or mis-shaped one is named
    /// with the shape expected), then loads them.</summary>
    public static EncoderWeights Load(IBackend backend, EncoderConfig config, ITensorSource source)
    {
        var names = new CheckpointNames(source);
        int C = config.HiddenSize, I = config.IntermediateSize;

        CheckpointLayout.Check(config, source, names);   // names, shapes and sizes, before any allocation

        Tensor Get(string name, params int[] shape)
        {
            var t = backend.ZerosCompute(shape);   // frozen: bf16 on a bf16 backend, converted once here
            backend.Upload(source.ReadFloat32(names.Resolve(name)), t);
            return t;
        }

        Tensor Fused(params string[] parts)
        {
            bool bias = parts[0].EndsWith(".bias", StringComparison.Ordinal);
            int rows = parts.Length * C;
            var data = new float[bias ? rows : (long)rows * C];
            int offset = 0;
            foreach (var part in parts)
            {
                var values = source.ReadFloat32(names.Resolve(part));
                values.CopyTo(data, offset);
                offset += values.Length;
            }
            var t = bias ? backend.ZerosCompute(rows) : backend.ZerosCompute(rows, C);
            backend.Upload(data, t);
            return t;
        }

        var layers = new List<LayerWeights>();
        for (int l = 0; l < config.NumLayers; l++)
        {
            string p = $"encoder.layer.{l}.";
            layers.Add(new LayerWeights
            {
                QkvWeight = Fused(p + "attention.self.query.weight", p + "attention.self.key.weight", p + "attention.self.value.weight"),
                QkvBias = Fused(p + "attention.self.query.bias", p + "attention.self.key.bias", p + "attention.self.value.bias"),
                OutWeight = Get(p + "attention.output.dense.weight", C, C),
                OutBias = Get(p + "attention.output.dense.bias", C),
                Norm1Weight = Get(names.NormName(p + "attention.output.LayerNorm", "weight"), C),
                Norm1Bias = Get(names.NormName(p + "attention.output.LayerNorm", "bias"), C),
                UpWeight = Get(p + "intermediate.dense.weight", I, C),
                UpBias = Get(p + "intermediate.dense.bias", I),
                DownWeight = Get(p + "output.dense.weight", C, I),
                DownBias = Get(p + "output.dense.bias", C),
                Norm2Weight = Get(names.NormName(p + "output.LayerNorm", "weight"), C),
                Norm2Bias = Get(names.NormName(p + "output.LayerNorm", "bias"), C),
            });
        }
        bool hasPooler = names.Has("pooler.dense.weight");
        return new EncoderWeights
        {
            Config = config,
            NamePrefix = names.Prefix,
            WordEmbeddings = Get("embeddings.word_embeddings.weight", config.VocabSize, C),
            PositionEmbeddings = Get("embeddings.position_embeddings.weight", config.MaxPositionEmbeddings, C),
            TokenTypeEmbeddings = Get("embeddings.token_type_embeddings.weight", config.TypeVocabSize, C),
            EmbeddingNormWeight = Get(names.NormName("embeddings.LayerNorm", "weight"), C),
            EmbeddingNormBias = Get(names.NormName("embeddings.LayerNorm", "bias"), C),
            Layers = layers,
            PoolerWeight = hasPooler ? Get("pooler.dense.weight", C, C) : null,
            PoolerBias = hasPooler ? Get("pooler.dense.bias", C) : null,
        };
    }

    public void Dispose()
    {
        foreach (var t in new[] { WordEmbeddings, PositionEmbeddings, TokenTypeEmbeddings, EmbeddingNormWeight, EmbeddingNormBias, PoolerWeight, PoolerBias }) t?.Dispose();
        foreach (var l in Layers)
            foreach (var t in new[] { l.QkvWeight, l.QkvBias, l.OutWeight, l.OutBias, l.Norm1Weight, l.Norm1Bias, l.UpWeight, l.UpBias, l.DownWeight, l.DownBias, l.Norm2Weight, l.Norm2Bias }) t.Dispose();
    }
}

/// <summary>
/// Hugging Face checkpoint naming: tensors with or without the "bert." / "roberta." prefix, and
/// LayerNorm parameters named weight/bias or (older TF conversions) gamma/beta.
/// </summary>
internal sealed class CheckpointNames
{
    static readonly string[] Prefixes = ["", "bert.", "roberta."];
    readonly ITensorSource _source;

    public CheckpointNames(ITensorSource source)
    {
        _source = source;
        Prefix = Prefixes.FirstOrDefault(p => source.Contains(p + "embeddings.word_embeddings.weight"))
            ?? throw new ModelFormatException(
                $"{source.SourceName}: no tensor 'embeddings.word_embeddings.weight' (looked for it with the prefixes '', 'bert.', 'roberta.'); not a BERT/RoBERTa checkpoint?");
    }

    public string Prefix { get; }

    public bool Has(string name) => _source.Contains(Prefix + name);

    public string Resolve(string name)
    {
        if (_source.Contains(Prefix + name)) return Prefix + name;
        throw new ModelFormatException($"{_source.SourceName}: missing tensor '{Prefix + name}'");
    }

    /// <summary>"X.weight" or, when only that exists, "X.gamma" (bias: beta).</summary>
    public string NormName(string module, string kind)
    {
        string modern = $"{module}.{kind}";
        if (Has(modern)) return modern;
        string legacy = $"{module}.{(kind == "weight" ? "gamma" : "beta")}";
        return Has(legacy) ? legacy : modern;
    }
}
