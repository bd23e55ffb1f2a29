using FastPrefix.Backends;

namespace FastPrefix.Model;

/// <summary>
/// Every buffer one encoder forward and backward use, allocated once for a capacity of rows (B·T),
/// batch rows and attention columns, and reused by every later batch that fits.
/// </summary>
internal sealed class EncoderActivations : IDisposable
{
    public readonly int RowCapacity, BatchCapacity, ProbCapacity;
    readonly List<Tensor> _all = [];

    public readonly Tensor Ids, Positions, Types, Mask, RowAdapter;
    public readonly Tensor EmbedSum, EmbedMean, EmbedRstd, EmbedOut, EmbedDropMask;
    public readonly LayerActivations[] Layers;
    public readonly Tensor FirstToken, Pooled;
    // backward scratch, shared by all layers
    public readonly Tensor GradA, GradB, GradSum, GradCtx, GradQkv, GradInter, GradH1, GradPooled, GradFirst;

    public sealed class LayerActivations
    {
        public required Tensor Qkv, Probs, ProbsDropMask, Context, AttnOut, AttnDropMask, Sum1, Mean1, Rstd1, H1,
            Inter, Act, FfnOut, FfnDropMask, Sum2, Mean2, Rstd2, Output;
    }

    public EncoderActivations(IBackend backend, EncoderConfig config, int rows, int batch, int probs)
    {
        RowCapacity = rows; BatchCapacity = batch; ProbCapacity = probs;
        int C = config.HiddenSize, I = config.IntermediateSize;
        Tensor F(params int[] shape) { var t = backend.Zeros(shape); _all.Add(t); return t; }
        Tensor N(params int[] shape) { var t = backend.ZerosInt(shape); _all.Add(t); return t; }
        Ids = N(rows); Positions = N(rows); Types = N(rows); Mask = N(rows); RowAdapter = N(batch);
        EmbedSum = F(rows, C); EmbedMean = F(rows); EmbedRstd = F(rows); EmbedOut = F(rows, C); EmbedDropMask = F(rows, C);
        Layers = new LayerActivations[config.NumLayers];
        for (int l = 0; l < config.NumLayers; l++)
            Layers[l] = new LayerActivations
            {
                Qkv = F(rows, 3 * C), Probs = F(probs), ProbsDropMask = F(probs), Context = F(rows, C),
                AttnOut = F(rows, C), AttnDropMask = F(rows, C), Sum1 = F(rows, C), Mean1 = F(rows), Rstd1 = F(rows), H1 = F(rows, C),
                Inter = F(rows, I), Act = F(rows, I), FfnOut = F(rows, C), FfnDropMask = F(rows, C),
                Sum2 = F(rows, C), Mean2 = F(rows), Rstd2 = F(rows), Output = F(rows, C),
            };
        FirstToken = F(batch, C); Pooled = F(batch, C);
        GradA = F(rows, C); GradB = F(rows, C); GradSum = F(rows, C); GradCtx = F(rows, C); GradQkv = F(rows, 3 * C);
        GradInter = F(rows, I); GradH1 = F(rows, C); GradPooled = F(batch, C); GradFirst = F(batch, C);
    }

    public bool Fits(int rows, int batch, int probs) => rows <= RowCapacity && batch <= BatchCapacity && probs <= ProbCapacity;

    public void Dispose() { foreach (var t in _all) t.Dispose(); }
}
