using FastPrefix.Backends;

namespace FastPrefix.Model;

/// <summary>Options of one encoder pass.</summary>
public sealed record EncoderPassOptions
{
    public bool Training { get; init; }
    /// <summary>Dropout inside the backbone while training (embeddings, attention output, feed-forward output).</summary>
    public float HiddenDropout { get; init; }
    /// <summary>Dropout on attention probabilities while training.</summary>
    public float AttentionDropout { get; init; }
    /// <summary>The step seed every dropout site's seed is derived from (<see cref="DropoutSites"/>).</summary>
    public ulong Seed { get; init; }
    public PositionMode Positions { get; init; } = PositionMode.FromZero;
    public bool ComputePooled { get; init; } = true;
}

/// <summary>
/// The frozen BERT/RoBERTa encoder with P-Tuning v2 prefixes, written once against <see cref="IBackend"/>.
/// Forward: embeddings + LayerNorm → L × (prefix attention, residual LayerNorm, GELU feed-forward, residual
/// LayerNorm) → pooler. Backward: input gradients only (the backbone is frozen), from the top layer down to the
/// lowest prefixed layer, producing the gradient of the prefix bank. Both run on an <see cref="EncoderPlan"/>'s
/// planned buffers and staged inputs, as a fixed sequence of ops.
/// </summary>
public sealed class Encoder : IDisposable
{
    readonly IBackend _b;
    readonly EncoderWeights _w;
    readonly EncoderConfig _c;
    // The plan of the standalone entry point (Forward(EncoderBatch, ...)), and the plan of the last forward.
    StepStaging? _ownStaging;
    EncoderPlan? _ownPlan, _last;

    public Encoder(IBackend backend, EncoderWeights weights)
    {
        _b = backend; _w = weights; _c = weights.Config;
    }

    public EncoderConfig Config => _c;
    public IBackend Backend => _b;
    public EncoderWeights Weights => _w;

    /// <summary>Plans buffers of <paramref name="size"/>, reserving the encoder's inputs in <paramref name="staging"/> (allocated afterwards by its owner).</summary>
    public EncoderPlan Plan(StepStaging staging, EncoderPlanSize size) => new(_b, _c, staging, size);

    /// <summary>Last hidden state (rows of the last forward's plan: Batch · Seq, C), valid until the next forward.</summary>
    public Tensor Hidden => (_last ?? throw new InvalidOperationException("no forward pass has run")).Hidden;
    /// <summary>Pooled output (Batch, C) of the last forward.</summary>
    public Tensor Pooled => (_last ?? throw new InvalidOperationException("no forward pass has run")).Activations.Pooled;

    /// <summary>The last hidden state of the last forward's real rows and tokens, (LogicalBatch · LogicalSeq, C), on the host.</summary>
    public float[] DownloadHidden()
    {
        var p = _last ?? throw new InvalidOperationException("no forward pass has run");
        int C = _c.HiddenSize;
        var all = new float[(long)p.LogicalBatch * p.Seq * C];
        _b.Download(p.Hidden, all);
        if (p.Seq == p.LogicalSeq) return all;
        var real = new float[(long)p.LogicalBatch * p.LogicalSeq * C];
        for (int b = 0; b < p.LogicalBatch; b++)
            Array.Copy(all, (long)b * p.Seq * C, real, (long)b * p.LogicalSeq * C, (long)p.LogicalSeq * C);
        return real;
    }

    /// <summary>The pooled output of the last forward's real rows, (LogicalBatch, C), on the host.</summary>
    public float[] DownloadPooled()
    {
        var p = _last ?? throw new InvalidOperationException("no forward pass has run");
        var pooled = new float[(long)p.LogicalBatch * _c.HiddenSize];
        _b.Download(p.Activations.Pooled, pooled);
        return pooled;
    }

    /// <summary>
    /// Standalone pass over a host batch (stages, uploads and runs it on a plan the encoder keeps for this entry
    /// point, grown when a batch does not fit). Models and trainers stage into their own plans instead.
    /// </summary>
    public void Forward(EncoderBatch batch, PrefixInput? prefix, EncoderPassOptions options)
    {
        int P = prefix?.PrefixLen ?? 0, first = prefix?.FirstLayer ?? _c.NumLayers;
        var size = new EncoderPlanSize(batch.Batch, batch.Seq, P, first, _c.NumLayers);
        if (_ownPlan == null || !_ownPlan.Size.Covers(size))
        {
            _ownPlan?.Dispose(); _ownStaging?.Dispose();
            _ownStaging = new StepStaging(_b);
            _ownPlan = Plan(_ownStaging, _ownPlan == null ? size : size with { MaxBatch = Math.Max(size.MaxBatch, _ownPlan.Size.MaxBatch), MaxSeq = Math.Max(size.MaxSeq, _ownPlan.Size.MaxSeq) });
            _ownStaging.Allocate();
            _ownPlan.Bind();
        }
        _ownPlan.Stage(batch, batch.Batch, batch.Seq, P, prefix?.Adapters ?? 1, options.Positions, options.Seed);
        _ownStaging!.Upload();
        Forward(_ownPlan, prefix, options);
    }

    /// <summary>The forward pass over the batch staged in <paramref name="plan"/> (ops only).</summary>
    public void Forward(EncoderPlan plan, PrefixInput? prefix, EncoderPassOptions options)
    {
        CheckPrefix(plan, prefix);
        if (options.ComputePooled && _w.PoolerWeight == null)
            throw new ModelFormatException($"the checkpoint has no pooler (pooler.dense.weight); heads on the pooled output cannot run");
        _last = plan;
        var a = plan.Activations;
        int B = plan.Batch, T = plan.Seq, N = plan.Rows, C = _c.HiddenSize, I = _c.IntermediateSize;
        bool train = options.Training;
        float hp = train ? options.HiddenDropout : 0, ap = train ? options.AttentionDropout : 0;
        var seeds = plan.Seeds;

        _b.EmbedLayerNorm(new EmbedArgs(plan.Ids, plan.Positions, plan.Types, _w.WordEmbeddings, _w.PositionEmbeddings, _w.TokenTypeEmbeddings,
            _w.EmbeddingNormWeight, _w.EmbeddingNormBias, a.X[0], N, C, _c.LayerNormEps, hp, new DropoutSeed(seeds, DropoutSites.Embeddings)));

        for (int l = 0; l < _c.NumLayers; l++)
        {
            var w = _w.Layers[l]; var s = a.Layers[l];
            Tensor x = a.X[l % 2], output = a.X[(l + 1) % 2];
            _b.Gemm(false, true, N, 3 * C, C, 1f, x, 0, C, w.QkvWeight, 0, C, 0f, s.Qkv, 0, 3 * C);
            _b.BiasActivation(s.Qkv, w.QkvBias, s.Qkv, N, 3 * C, Activation.None);
            _b.Attention(AttentionFor(plan, l, prefix, ap));
            _b.Gemm(false, true, N, C, C, 1f, s.Context, 0, C, w.OutWeight, 0, C, 0f, a.Branch, 0, C);
            _b.ResidualLayerNorm(AttentionBlockEnd(plan, l, x, hp));
            _b.Gemm(false, true, N, I, C, 1f, a.H1, 0, C, w.UpWeight, 0, C, 0f, s.Up, 0, I);
            _b.BiasActivation(s.Up, w.UpBias, a.Act, N, I, Activation.Gelu);
            _b.Gemm(false, true, N, C, I, 1f, a.Act, 0, I, w.DownWeight, 0, I, 0f, a.Branch, 0, C);
            _b.ResidualLayerNorm(FeedForwardBlockEnd(plan, l, output, hp));
        }

        if (options.ComputePooled)
        {
            // tanh(h[:, 0] Wᵀ + b): token 0 of every row read in place (row stride T·C).
            _b.Gemm(false, true, B, C, C, 1f, plan.Hidden, 0, T * C, _w.PoolerWeight!, 0, C, 0f, a.Pooled, 0, C);
            _b.BiasActivation(a.Pooled, _w.PoolerBias!, a.Pooled, B, C, Activation.Tanh);
        }
    }

    ResidualNormArgs AttentionBlockEnd(EncoderPlan plan, int l, Tensor x, float dropout)
    {
        var a = plan.Activations; var s = a.Layers[l]; var w = _w.Layers[l];
        return new ResidualNormArgs(a.Branch, w.OutBias, x, w.Norm1Weight, w.Norm1Bias, s.Sum1, a.H1, s.Mean1, s.Rstd1,
            plan.Rows, _c.HiddenSize, _c.LayerNormEps, dropout, new DropoutSeed(plan.Seeds, DropoutSites.AttentionOutput(l)));
    }

    ResidualNormArgs FeedForwardBlockEnd(EncoderPlan plan, int l, Tensor output, float dropout)
    {
        var a = plan.Activations; var s = a.Layers[l]; var w = _w.Layers[l];
        return new ResidualNormArgs(a.Branch, w.DownBias, a.H1, w.Norm2Weight, w.Norm2Bias, s.Sum2, output, s.Mean2, s.Rstd2,
            plan.Rows, _c.HiddenSize, _c.LayerNormEps, dropout, new DropoutSeed(plan.Seeds, DropoutSites.FeedForwardOutput(l)));
    }

    AttentionArgs AttentionFor(EncoderPlan plan, int layer, PrefixInput? prefix, float dropout)
    {
        var s = plan.Activations.Layers[layer];
        bool prefixed = prefix != null && layer >= prefix.FirstLayer;
        return new AttentionArgs(plan.Batch, plan.Seq, _c.NumHeads, _c.HeadDim, prefixed ? prefix!.PrefixLen : 0,
            s.Qkv, prefixed ? prefix!.Bank : null, prefix == null ? 0 : _c.NumLayers - prefix.FirstLayer, prefixed ? layer - prefix!.FirstLayer : 0,
            plan.RowAdapter, plan.Mask, s.Context, s.State, dropout, new DropoutSeed(plan.Seeds, DropoutSites.AttentionProbs(layer)));
    }

    void CheckPrefix(EncoderPlan plan, PrefixInput? prefix)
    {
        int P = prefix?.PrefixLen ?? 0, first = prefix?.FirstLayer ?? _c.NumLayers;
        if (prefix != null)
        {
            if (prefix.FirstLayer < 0 || prefix.FirstLayer > _c.NumLayers)
                throw new ArgumentException($"prefix first layer {prefix.FirstLayer} is outside 0..{_c.NumLayers}");
            if (prefix.PrefixLen <= 0) throw new ArgumentException($"prefix length must be positive, got {prefix.PrefixLen}");
            long expected = (long)prefix.Adapters * (_c.NumLayers - prefix.FirstLayer) * 2 * _c.HiddenSize * prefix.PrefixLen;
            if (prefix.Bank.Length != expected)
                throw new ArgumentException($"prefix bank {prefix.Bank} has {prefix.Bank.Length} values, expected {prefix.Adapters} adapters x {_c.NumLayers - prefix.FirstLayer} layers x 2 x {_c.NumHeads} heads x {prefix.PrefixLen} x {_c.HeadDim} = {expected}");
        }
        if (plan.Size.PrefixLen != P || (P > 0 && plan.Size.FirstPrefixedLayer != first))
            throw new ArgumentException($"the encoder plan was made for prefix length {plan.Size.PrefixLen} from layer {plan.Size.FirstPrefixedLayer}, the pass has {P} from layer {first}");
    }

    /// <summary>
    /// Backward of the last forward on <paramref name="plan"/> (ops only). The loss gradients of the outputs are in
    /// the plan's hidden gradient (when <paramref name="hiddenGrad"/>; else zero) and pooled gradient (when
    /// <paramref name="pooledGrad"/>). dPrefixBank, shaped like the bank, receives (accumulates) the prefix gradient.
    /// </summary>
    public void Backward(EncoderPlan plan, PrefixInput prefix, EncoderPassOptions options, bool hiddenGrad, bool pooledGrad, Tensor dPrefixBank)
    {
        var a = plan.Activations;
        if (a.HiddenGrad == null || plan.Size.TrainedFrom > prefix.FirstLayer)
            throw new InvalidOperationException($"the encoder plan keeps activations from layer {plan.Size.TrainedFrom}; a backward to layer {prefix.FirstLayer} needs a training plan");
        int B = plan.Batch, T = plan.Seq, N = plan.Rows, C = _c.HiddenSize, I = _c.IntermediateSize;
        bool train = options.Training;
        float hp = train ? options.HiddenDropout : 0, ap = train ? options.AttentionDropout : 0;

        // Gradient of the last hidden state: from the token heads, plus the pooler's path to token 0 (row stride T·C).
        Tensor dx = a.HiddenGrad, dxNext = a.GradX!;
        if (!hiddenGrad) _b.Fill(dx, 0, (long)N * C);
        if (pooledGrad)
        {
            _b.ActivationBackward(Activation.Tanh, a.PooledGrad!, a.Pooled, a.PooledPreGrad!, (long)B * C);
            _b.Gemm(false, false, B, C, C, 1f, a.PooledPreGrad!, 0, C, _w.PoolerWeight!, 0, C, 1f, dx, 0, T * C);
        }

        for (int l = _c.NumLayers - 1; l >= prefix.FirstLayer; l--)
        {
            var w = _w.Layers[l]; var s = a.Layers[l];
            // out = LN2(drop(FFN(h1)) + h1): the residual gradient goes to h1, the branch through the feed-forward.
            _b.ResidualLayerNormBackward(FeedForwardBlockEnd(plan, l, a.X[(l + 1) % 2], hp), dx, a.GradH1, a.GradBranch!);
            _b.Gemm(false, false, N, I, C, 1f, a.GradBranch!, 0, C, w.DownWeight, 0, I, 0f, a.GradAct!, 0, I);
            _b.ActivationBackward(Activation.Gelu, a.GradAct!, s.Up, a.GradAct!, (long)N * I);
            _b.Gemm(false, false, N, C, I, 1f, a.GradAct!, 0, I, w.UpWeight, 0, C, 1f, a.GradH1!, 0, C);
            // h1 = LN1(drop(attention(x) Wo) + x)
            bool needInput = l > prefix.FirstLayer;
            _b.ResidualLayerNormBackward(AttentionBlockEnd(plan, l, a.X[l % 2], hp), a.GradH1!, needInput ? dxNext : null, a.GradBranch!);
            _b.Gemm(false, false, N, C, C, 1f, a.GradBranch!, 0, C, w.OutWeight, 0, C, 0f, a.GradCtx!, 0, C);
            _b.AttentionBackward(AttentionFor(plan, l, prefix, ap), a.GradCtx!, a.GradQkv!, dPrefixBank);
            if (needInput)
            {
                _b.Gemm(false, false, N, C, 3 * C, 1f, a.GradQkv!, 0, 3 * C, w.QkvWeight, 0, C, 1f, dxNext, 0, C);
                (dx, dxNext) = (dxNext, dx);
            }
        }
    }

    public void Dispose() { _ownPlan?.Dispose(); _ownStaging?.Dispose(); }
}
