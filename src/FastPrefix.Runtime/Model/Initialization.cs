
namespace FastPrefix.Model;

/// <summary>
/// Initial values of the trainable tensors, as the P-Tuning v2 reference (PyTorch defaults): a plain prefix and
/// the MLP's embedding ~ N(0, 1) (nn.Embedding), MLP linears ~ U(±1/√fan_in) (nn.Linear), the head ~ N(0, 0.02)
/// with zero bias (Hugging Face's initializer_range). Deterministic for a seed.
/// </summary>
public static class Initialization
{
    public static void Initialize(PTuningModel model, int seed)
    {
        var rng = new Random(seed);
        foreach (var p in model.Prefix.Parameters)
        {
            float[] values = p.Name switch
            {
                "prefix" or "prefix_encoder.embedding.weight" => Normal(rng, p.Length, 1.0),
                _ => Uniform(rng, p.Length, 1.0 / Math.Sqrt(FanIn(model.Prefix, p))),
            };
            p.Upload(values);
        }
        model.Head.Weight.Upload(Normal(rng, model.Head.Weight.Length, 0.02));
        model.Head.Bias.Upload(new float[model.Head.Bias.Length]);
    }

    static int FanIn(Prefix prefix, Parameter p) => p.Name.StartsWith("prefix_encoder.trans.0", StringComparison.Ordinal)
        ? prefix.Config.HiddenSize
        : ((MlpPrefix)prefix).ProjectionHidden;

    static float[] Normal(Random rng, long n, double std)
    {
        var a = new float[n];
        for (long i = 0; i < n; i++) a[i] = (float)(std * SyntheticCheckpoint.Gaussian(rng));
        return a;
    }

    static float[] Uniform(Random rng, long n, double bound)
    {
        var a = new float[n];
        for (long i = 0; i < n; i++) a[i] = (float)((rng.NextDouble() * 2 - 1) * bound);
        return a;
    }
}
