using FastPrefix.Backends;

namespace FastPrefix.Model;

/// <summary>
/// Every buffer an encoder pass and its backward use, allocated once for a capacity of rows (B·T) and batch rows.
/// Only layers the backward needs (from <see cref="EncoderPlanSize.TrainedFrom"/> up) keep their own activations —
/// what their backward reads: q|k|v, the attention context and state, the LayerNorm inputs and statistics, the
/// feed-forward pre-activation. Every other layer writes into one shared set. Layer outputs, the normalised
/// attention block output and the GELU output are never needed by a backward and live in shared scratch.
/// </summary>
internal sealed class EncoderActivations : IDisposable
{
    readonly List<Tensor> _all = [];

    /// <summary>What one layer's forward writes and its backward reads.</summary>
    public sealed class Layer
    {
        public required Tensor Qkv, Context, State, Sum1, Mean1, Rstd1, Up, Sum2, Mean2, Rstd2;
    }

    public readonly Layer[] Layers;
    /// <summary>Layer inputs/outputs (ping-pong: layer l reads X[l % 2] and writes X[(l + 1) % 2]), the attention block output, a GEMM output, the GELU output.</summary>
    public readonly Tensor[] X;
    public readonly Tensor H1, Branch, Act, Pooled;
    /// <summary>Backward buffers (training plans only): the gradients of the last hidden state and the pooled output, and scratch.</summary>
    public readonly Tensor? HiddenGrad, PooledGrad, PooledPreGrad, GradX, GradH1, GradBranch, GradAct, GradCtx, GradQkv;

    public EncoderActivations(IBackend backend, EncoderConfig config, EncoderPlanSize size)
    {
        int rows = size.MaxRows, batch = size.MaxBatch, C = config.HiddenSize, I = config.IntermediateSize, H = config.NumHeads, L = config.NumLayers;
        // Activations and their gradients in the backend's compute type; statistics and attention state in fp32.
        Tensor A(params int[] shape) { var t = backend.ZerosCompute(shape); _all.Add(t); return t; }
        Tensor F(params int[] shape) { var t = backend.Zeros(shape); _all.Add(t); return t; }
        int State(int prefixLen) => checked((int)backend.AttentionStateLength(batch, size.MaxSeq, H, prefixLen));
        Layer NewLayer(int prefixLen) => new()
        {
            Qkv = A(rows, 3 * C), Context = A(rows, C), State = F(State(prefixLen)), Sum1 = A(rows, C), Mean1 = F(rows), Rstd1 = F(rows),
            Up = A(rows, I), Sum2 = A(rows, C), Mean2 = F(rows), Rstd2 = F(rows),
        };

        Layers = new Layer[L];
        Layer? shared = null;
        for (int l = 0; l < L; l++)
        {
            int p = l >= size.FirstPrefixedLayer ? size.PrefixLen : 0;
            if (l >= size.TrainedFrom) Layers[l] = NewLayer(p);
            else Layers[l] = shared ??= NewLayer(size.TrainedFrom > size.FirstPrefixedLayer ? size.PrefixLen : 0);
        }
        X = [A(rows, C), A(rows, C)];
        H1 = A(rows, C); Branch = A(rows, C); Act = A(rows, I); Pooled = A(batch, C);
        if (size.TrainedFrom < L)
        {
            HiddenGrad = A(rows, C); PooledGrad = A(batch, C); PooledPreGrad = A(batch, C); GradX = A(rows, C);
            GradH1 = A(rows, C); GradBranch = A(rows, C); GradAct = A(rows, I); GradCtx = A(rows, C); GradQkv = A(rows, 3 * C);
        }
    }

    /// <summary>Bytes of all buffers (for the plan summary and memory tests).</summary>
    public long Bytes => _all.Sum(t => t.Length * (t.Type == TensorType.BFloat16 ? 2 : 4));

    public void Dispose() { foreach (var t in _all) t.Dispose(); }
}
