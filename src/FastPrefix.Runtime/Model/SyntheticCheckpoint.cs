namespace FastPrefix.Model;

/// <summary>
/// A deterministic random BERT/RoBERTa checkpoint with Hugging Face tensor names: the backbone of the
/// built-in demo, the benchmarks and the gradient tests. Weights ~ N(0, 0.02) like a fresh BERT, LayerNorm
/// weight 1 and bias 0 (plus a little noise so the tests see gamma/beta matter).
/// </summary>
public sealed class SyntheticCheckpoint : ITensorSource
{
    readonly Dictionary<string, (long[] Shape, float[] Data)> _tensors = new(StringComparer.Ordinal);

    public SyntheticCheckpoint(EncoderConfig config, int seed = 0, float std = 0.02f, bool withPooler = true, string namePrefix = "")
    {
        var rng = new Random(seed);
        int C = config.HiddenSize, I = config.IntermediateSize;
        void Normal(string name, params long[] shape)
        {
            var data = new float[shape.Aggregate(1L, (a, b) => a * b)];
            for (int i = 0; i < data.Length; i++) data[i] = (float)(std * Gaussian(rng));
            _tensors[namePrefix + name] = (shape, data);
        }
        void Norm(string module)
        {
            var w = new float[C]; var b = new float[C];
            for (int i = 0; i < C; i++) { w[i] = 1f + (float)(0.1 * Gaussian(rng)); b[i] = (float)(0.1 * Gaussian(rng)); }
            _tensors[namePrefix + module + ".weight"] = ([C], w);
            _tensors[namePrefix + module + ".bias"] = ([C], b);
        }
        Normal("embeddings.word_embeddings.weight", config.VocabSize, C);
        Normal("embeddings.position_embeddings.weight", config.MaxPositionEmbeddings, C);
        Normal("embeddings.token_type_embeddings.weight", config.TypeVocabSize, C);
        Norm("embeddings.LayerNorm");
        for (int l = 0; l < config.NumLayers; l++)
        {
            string p = $"encoder.layer.{l}.";
            foreach (var m in new[] { "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense" })
            { Normal(p + m + ".weight", C, C); Normal(p + m + ".bias", C); }
            Norm(p + "attention.output.LayerNorm");
            Normal(p + "intermediate.dense.weight", I, C); Normal(p + "intermediate.dense.bias", I);
            Normal(p + "output.dense.weight", C, I); Normal(p + "output.dense.bias", C);
            Norm(p + "output.LayerNorm");
        }
        if (withPooler) { Normal("pooler.dense.weight", C, C); Normal("pooler.dense.bias", C); }
    }

    /// <summary>Standard normal by Box–Muller.</summary>
    public static double Gaussian(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    public string SourceName => "synthetic checkpoint";
    public IEnumerable<string> Names => _tensors.Keys;
    public bool Contains(string name) => _tensors.ContainsKey(name);
    public long[] GetShape(string name) => _tensors[name].Shape;
    public float[] ReadFloat32(string name) => (float[])_tensors[name].Data.Clone();
    /// <summary>Removes a tensor (tests of missing-tensor errors).</summary>
    public void Remove(string name) => _tensors.Remove(name);
    /// <summary>Replaces a tensor (tests of mis-shaped tensors, renamed LayerNorm parameters).</summary>
    public void Set(string name, long[] shape, float[] data) => _tensors[name] = (shape, data);
}
