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
    public ulong Seed { get; init; }
    public PositionMode Positions { get; init; } = PositionMode.FromZero;
    public bool ComputePooled { get; init; } = true;
}

/// <summary>
/// The frozen BERT/RoBERTa encoder with P-Tuning v2 prefixes, written once against <see cref="IBackend"/>.
/// Forward: embeddings → L × (prefix attention, residual LayerNorm, GELU feed-forward, residual LayerNorm) → pooler.
/// Backward: input gradients only (the backbone is frozen), from the top layer down to the lowest prefixed
/// layer, producing the gradient of the prefix bank.
/// </summary>
public sealed class Encoder : IDisposable
{
    readonly IBackend _b;
    readonly EncoderWeights _w;
    readonly EncoderConfig _c;
    EncoderActivations? _act;
    // What the last forward saw, for its backward.
    EncoderBatch? _batch;
    PrefixInput? _prefix;
    EncoderPassOptions? _options;
    int[] _positions = [], _adapterZeros = [];   // host scratch for position ids and the default adapter index

    public Encoder(IBackend backend, EncoderWeights weights)
    {
        _b = backend; _w = weights; _c = weights.Config;
    }

    public EncoderConfig Config => _c;
    public IBackend Backend => _b;
    public EncoderWeights Weights => _w;

    /// <summary>Last hidden state (B·T, C) of the last forward (valid until the next forward).</summary>
    public Tensor Hidden => _act?.Layers[^1].Output ?? throw new InvalidOperationException("no forward pass has run");
    /// <summary>Pooled output (B, C) of the last forward.</summary>
    public Tensor Pooled => _act?.Pooled ?? throw new InvalidOperationException("no forward pass has run");

    static ulong Site(int layer, int site) => (ulong)(layer + 1) * 16 + (ulong)site;

    public void Forward(EncoderBatch batch, PrefixInput? prefix, EncoderPassOptions options)
    {
        int B = batch.Batch, T = batch.Seq, N = batch.Rows, C = _c.HiddenSize, H = _c.NumHeads, D = _c.HeadDim, I = _c.IntermediateSize;
        int P = prefix?.PrefixLen ?? 0;
        CheckPrefix(batch, prefix);
        if (options.ComputePooled && _w.PoolerWeight == null)
            throw new ModelFormatException($"the checkpoint has no pooler (pooler.dense.weight); heads on the pooled output cannot run");
        int probs = checked(B * H * T * (P + T));
        if (_act == null || !_act.Fits(N, B, probs))
        {
            _act?.Dispose();
            _act = new EncoderActivations(_b, _c, N, B, probs);
            _positions = new int[_act.RowCapacity]; _adapterZeros = new int[_act.BatchCapacity];
        }
        var a = _act;
        _batch = batch; _prefix = prefix; _options = options;
        bool train = options.Training;
        float hp = train ? options.HiddenDropout : 0, ap = train ? options.AttentionDropout : 0;

        _b.Upload(batch.InputIds, a.Ids);
        batch.PositionIds(_c, P, options.Positions, _positions);
        _b.Upload(_positions.AsSpan(0, N), a.Positions);
        _b.Upload(batch.TokenTypeIds, a.Types);
        _b.Upload(batch.AttentionMask, a.Mask);
        _b.Upload(batch.RowAdapter is { } rowAdapter ? rowAdapter : _adapterZeros.AsSpan(0, B), a.RowAdapter);

        _b.Embed(a.Ids, a.Positions, a.Types, _w.WordEmbeddings, _w.PositionEmbeddings, _w.TokenTypeEmbeddings, a.EmbedSum, N, C);
        _b.LayerNorm(a.EmbedSum, _w.EmbeddingNormWeight, _w.EmbeddingNormBias, a.EmbedOut, a.EmbedMean, a.EmbedRstd, N, C, _c.LayerNormEps);
        if (hp > 0) _b.Dropout(a.EmbedOut, a.EmbedOut, a.EmbedDropMask, (long)N * C, hp, DropoutHash.Derive(options.Seed, Site(-1, 0)));

        Tensor x = a.EmbedOut;
        for (int l = 0; l < _c.NumLayers; l++)
        {
            var w = _w.Layers[l]; var s = a.Layers[l];
            _b.Gemm(false, true, N, 3 * C, C, 1f, x, 0, w.QkvWeight, 0, 0f, s.Qkv, 0);
            _b.AddBias(s.Qkv, w.QkvBias, N, 3 * C);
            _b.Attention(AttentionFor(l, s, ap, options.Seed));
            _b.Gemm(false, true, N, C, C, 1f, s.Context, 0, w.OutWeight, 0, 0f, s.AttnOut, 0);
            _b.AddBias(s.AttnOut, w.OutBias, N, C);
            if (hp > 0) _b.Dropout(s.AttnOut, s.AttnOut, s.AttnDropMask, (long)N * C, hp, DropoutHash.Derive(options.Seed, Site(l, 1)));
            _b.Add(s.AttnOut, x, s.Sum1, (long)N * C);
            _b.LayerNorm(s.Sum1, w.Norm1Weight, w.Norm1Bias, s.H1, s.Mean1, s.Rstd1, N, C, _c.LayerNormEps);
            _b.Gemm(false, true, N, I, C, 1f, s.H1, 0, w.UpWeight, 0, 0f, s.Inter, 0);
            _b.AddBias(s.Inter, w.UpBias, N, I);
            _b.Gelu(s.Inter, s.Act, (long)N * I);
            _b.Gemm(false, true, N, C, I, 1f, s.Act, 0, w.DownWeight, 0, 0f, s.FfnOut, 0);
            _b.AddBias(s.FfnOut, w.DownBias, N, C);
            if (hp > 0) _b.Dropout(s.FfnOut, s.FfnOut, s.FfnDropMask, (long)N * C, hp, DropoutHash.Derive(options.Seed, Site(l, 2)));
            _b.Add(s.FfnOut, s.H1, s.Sum2, (long)N * C);
            _b.LayerNorm(s.Sum2, w.Norm2Weight, w.Norm2Bias, s.Output, s.Mean2, s.Rstd2, N, C, _c.LayerNormEps);
            x = s.Output;
        }

        if (options.ComputePooled)
        {
            _b.GatherToken(x, a.FirstToken, B, T, C, 0);
            _b.Gemm(false, true, B, C, C, 1f, a.FirstToken, 0, _w.PoolerWeight!, 0, 0f, a.Pooled, 0);
            _b.AddBias(a.Pooled, _w.PoolerBias!, B, C);
            _b.Tanh(a.Pooled, a.Pooled, (long)B * C);
        }
    }

    AttentionArgs AttentionFor(int layer, EncoderActivations.LayerActivations s, float dropout, ulong seed)
    {
        var batch = _batch!; var prefix = _prefix;
        bool prefixed = prefix != null && layer >= prefix.FirstLayer;
        return new AttentionArgs(batch.Batch, batch.Seq, _c.NumHeads, _c.HeadDim, prefixed ? prefix!.PrefixLen : 0,
            s.Qkv, prefixed ? prefix!.Bank : null, prefix == null ? 0 : _c.NumLayers - prefix.FirstLayer, prefixed ? layer - prefix!.FirstLayer : 0,
            _act!.RowAdapter, _act.Mask, s.Context, s.Probs, s.ProbsDropMask, dropout, DropoutHash.Derive(seed, Site(layer, 3)));
    }

    void CheckPrefix(EncoderBatch batch, PrefixInput? prefix)
    {
        if (prefix == null) return;
        if (prefix.FirstLayer < 0 || prefix.FirstLayer > _c.NumLayers)
            throw new ArgumentException($"prefix first layer {prefix.FirstLayer} is outside 0..{_c.NumLayers}");
        if (prefix.PrefixLen <= 0) throw new ArgumentException($"prefix length must be positive, got {prefix.PrefixLen}");
        long expected = (long)prefix.Adapters * (_c.NumLayers - prefix.FirstLayer) * 2 * _c.HiddenSize * prefix.PrefixLen;
        if (prefix.Bank.Length != expected)
            throw new ArgumentException($"prefix bank {prefix.Bank} has {prefix.Bank.Length} values, expected {prefix.Adapters} adapters x {_c.NumLayers - prefix.FirstLayer} layers x 2 x {_c.NumHeads} heads x {prefix.PrefixLen} x {_c.HeadDim} = {expected}");
        if (batch.RowAdapter != null)
            foreach (var r in batch.RowAdapter)
                if ((uint)r >= prefix.Adapters) throw new ArgumentException($"a row uses adapter {r} but the prefix bank holds {prefix.Adapters}");
    }

    /// <summary>
    /// Backward of the last forward. dHidden (B·T, C) and/or dPooled (B, C) are the loss gradients of the
    /// outputs (null: zero). dPrefixBank, shaped like the bank, receives (accumulates) the prefix gradient.
    /// </summary>
    public void Backward(Tensor? dHidden, Tensor? dPooled, Tensor dPrefixBank)
    {
        var batch = _batch ?? throw new InvalidOperationException("Backward needs a forward pass first");
        var prefix = _prefix ?? throw new InvalidOperationException("Backward needs a prefix: without one there is nothing trainable in the encoder");
        var a = _act!; var options = _options!;
        int B = batch.Batch, T = batch.Seq, N = batch.Rows, C = _c.HiddenSize, I = _c.IntermediateSize;
        bool train = options.Training;
        float hp = train ? options.HiddenDropout : 0, ap = train ? options.AttentionDropout : 0;

        // Gradient of the last hidden state: from the token heads, plus the pooler's path to token 0.
        Tensor dx = a.GradA, dxNext = a.GradB;
        if (dHidden != null) _b.Copy(dHidden, 0, dx, 0, (long)N * C); else _b.Fill(dx, 0);
        if (dPooled != null)
        {
            _b.TanhBackward(dPooled, a.Pooled, a.GradPooled, (long)B * C);
            _b.Gemm(false, false, B, C, C, 1f, a.GradPooled, 0, _w.PoolerWeight!, 0, 0f, a.GradFirst, 0);
            _b.ScatterTokenAdd(a.GradFirst, dx, B, T, C, 0);
        }

        for (int l = _c.NumLayers - 1; l >= prefix.FirstLayer; l--)
        {
            var w = _w.Layers[l]; var s = a.Layers[l];
            // x_out = LN2(drop(FFN(h1)) + h1)
            _b.LayerNormBackward(dx, s.Sum2, w.Norm2Weight, s.Mean2, s.Rstd2, a.GradSum, N, C, accumulate: false);
            _b.Copy(a.GradSum, 0, a.GradH1, 0, (long)N * C);                       // residual into h1
            if (hp > 0) _b.Multiply(a.GradSum, s.FfnDropMask, a.GradSum, (long)N * C);
            _b.Gemm(false, false, N, I, C, 1f, a.GradSum, 0, w.DownWeight, 0, 0f, a.GradInter, 0);
            _b.GeluBackward(a.GradInter, s.Inter, a.GradInter, (long)N * I);
            _b.Gemm(false, false, N, C, I, 1f, a.GradInter, 0, w.UpWeight, 0, 1f, a.GradH1, 0);
            // h1 = LN1(drop(attention(x) Wo) + x)
            _b.LayerNormBackward(a.GradH1, s.Sum1, w.Norm1Weight, s.Mean1, s.Rstd1, a.GradSum, N, C, accumulate: false);
            bool needInput = l > prefix.FirstLayer;
            if (needInput) _b.Copy(a.GradSum, 0, dxNext, 0, (long)N * C);          // residual into x
            if (hp > 0) _b.Multiply(a.GradSum, s.AttnDropMask, a.GradSum, (long)N * C);
            _b.Gemm(false, false, N, C, C, 1f, a.GradSum, 0, w.OutWeight, 0, 0f, a.GradCtx, 0);
            _b.AttentionBackward(AttentionFor(l, s, ap, options.Seed), a.GradCtx, a.GradQkv, dPrefixBank);
            if (needInput)
            {
                _b.Gemm(false, false, N, C, 3 * C, 1f, a.GradQkv, 0, w.QkvWeight, 0, 1f, dxNext, 0);
                (dx, dxNext) = (dxNext, dx);
            }
        }
    }

    public void Dispose() => _act?.Dispose();
}
