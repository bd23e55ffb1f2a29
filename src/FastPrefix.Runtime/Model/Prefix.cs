using FastPrefix.Backends;

namespace FastPrefix.Model;

/// <summary>
/// The trainable P-Tuning v2 prefix: keys and values for layers FirstLayer..L-1, materialised for a pass as a
/// bank (A, L - FirstLayer, 2, H, P, D) that the attention reads directly (never concatenated to the tokens).
/// </summary>
public abstract class Prefix : IDisposable
{
    protected readonly IBackend Backend;
    readonly Tensor _dropped, _bankGrad;
    bool _droppedLast;
    float _dropout;
    DropoutSeed _seed;

    protected Prefix(IBackend backend, EncoderConfig config, int prefixLen, int firstLayer, int adapters)
    {
        if (prefixLen <= 0) throw new ArgumentException($"prefix length must be positive, got {prefixLen}");
        if (firstLayer < 0 || firstLayer >= config.NumLayers)
            throw new ArgumentException($"first prefixed layer must be in 0..{config.NumLayers - 1}, got {firstLayer}");
        if (adapters <= 0) throw new ArgumentException($"number of adapters must be positive, got {adapters}");
        Backend = backend; Config = config; PrefixLen = prefixLen; FirstLayer = firstLayer; Adapters = adapters;
        BankShape = adapters == 1
            ? [Layers, 2, config.NumHeads, prefixLen, config.HeadDim]
            : [adapters, Layers, 2, config.NumHeads, prefixLen, config.HeadDim];
        _dropped = backend.Zeros(BankShape); _bankGrad = backend.Zeros(BankShape);
    }

    public EncoderConfig Config { get; }
    public int PrefixLen { get; }
    public int FirstLayer { get; }
    public int Layers => Config.NumLayers - FirstLayer;
    public int Adapters { get; }
    /// <summary>(L', 2, H, P, D) for one adapter, (A, L', 2, H, P, D) for several.</summary>
    public int[] BankShape { get; }
    public long BankLength => (long)Adapters * Layers * 2 * Config.HiddenSize * PrefixLen;
    public abstract IReadOnlyList<Parameter> Parameters { get; }
    /// <summary>"plain" or "mlp", as recorded in adapter files.</summary>
    public abstract string Kind { get; }

    /// <summary>The bank as the parameters define it (no dropout).</summary>
    protected abstract Tensor ComputeBank();
    /// <summary>Pushes the gradient of the bank into the parameters' gradients (accumulating).</summary>
    protected abstract void BackwardBank(Tensor bankGrad);

    /// <summary>Builds the bank for a pass without dropout (ops only).</summary>
    public PrefixInput Prepare() => Prepare(false, 0, default);

    /// <summary>Builds the bank for one pass (ops only); while training, dropout with probability p is applied to it.</summary>
    public PrefixInput Prepare(bool training, float dropout, DropoutSeed seed)
    {
        var bank = ComputeBank();
        Backend.Fill(_bankGrad, 0);
        _droppedLast = training && dropout > 0;
        _dropout = dropout; _seed = seed;
        if (_droppedLast)
        {
            Backend.Dropout(bank, _dropped, BankLength, dropout, seed);
            bank = _dropped;
        }
        return new PrefixInput(bank, Adapters, PrefixLen, FirstLayer);
    }

    /// <summary>Gradient buffer of the bank the encoder accumulates into; zeroed by <see cref="Prepare"/>.</summary>
    public Tensor BankGrad => _bankGrad;

    /// <summary>After the encoder backward: turns <see cref="BankGrad"/> into parameter gradients.</summary>
    public void Backward()
    {
        if (_droppedLast) Backend.DropoutBackward(_bankGrad, _bankGrad, BankLength, _dropout, _seed);
        BackwardBank(_bankGrad);
    }

    /// <summary>The bank as host floats (plain layout), e.g. to fold an MLP prefix for export.</summary>
    public float[] DownloadBank()
    {
        var data = new float[BankLength];
        Backend.Download(ComputeBank(), data);
        return data;
    }

    public virtual void Dispose() { _dropped.Dispose(); _bankGrad.Dispose(); }
}

/// <summary>A prefix stored directly as the bank: one parameter "prefix".</summary>
public sealed class PlainPrefix : Prefix
{
    readonly Parameter _bank;
    readonly Parameter[] _parameters;

    public PlainPrefix(IBackend backend, EncoderConfig config, int prefixLen, int firstLayer = 0, int adapters = 1)
        : base(backend, config, prefixLen, firstLayer, adapters)
    {
        _bank = new Parameter(backend, "prefix", BankShape);
        _parameters = [_bank];
    }

    public Parameter Bank => _bank;
    public override IReadOnlyList<Parameter> Parameters => _parameters;
    public override string Kind => "plain";
    protected override Tensor ComputeBank() => _bank.Value;
    protected override void BackwardBank(Tensor bankGrad) => Backend.Add(_bank.Grad, bankGrad, _bank.Grad, BankLength);

    public override void Dispose() { _bank.Dispose(); base.Dispose(); }
}

/// <summary>
/// P-Tuning v2's prefix_projection: bank = view(tanh(E W0ᵀ + b0) W2ᵀ + b2) with E (P, C), W0 (h, C),
/// W2 (L'·2·C, h); each output row is one prefix position in the (L', 2, H, D) PEFT layout.
/// </summary>
public sealed class MlpPrefix : Prefix
{
    readonly Parameter _embedding, _w0, _b0, _w2, _b2;
    readonly Parameter[] _parameters;
    readonly Tensor _pre, _act, _out, _bank, _dOut, _dAct;
    readonly int _hidden, _width;

    public MlpPrefix(IBackend backend, EncoderConfig config, int prefixLen, int projectionHidden, int firstLayer = 0)
        : base(backend, config, prefixLen, firstLayer, 1)
    {
        if (projectionHidden <= 0) throw new ArgumentException($"prefix projection hidden size must be positive, got {projectionHidden}");
        _hidden = projectionHidden;
        int C = config.HiddenSize;
        _width = Layers * 2 * C;
        _embedding = new Parameter(backend, "prefix_encoder.embedding.weight", [prefixLen, C]);
        _w0 = new Parameter(backend, "prefix_encoder.trans.0.weight", [projectionHidden, C]);
        _b0 = new Parameter(backend, "prefix_encoder.trans.0.bias", [projectionHidden], decay: false);
        _w2 = new Parameter(backend, "prefix_encoder.trans.2.weight", [_width, projectionHidden]);
        _b2 = new Parameter(backend, "prefix_encoder.trans.2.bias", [_width], decay: false);
        _parameters = [_embedding, _w0, _b0, _w2, _b2];
        _pre = backend.Zeros(prefixLen, projectionHidden); _act = backend.Zeros(prefixLen, projectionHidden);
        _out = backend.Zeros(prefixLen, _width); _bank = backend.Zeros(BankShape);
        _dOut = backend.Zeros(prefixLen, _width); _dAct = backend.Zeros(prefixLen, projectionHidden);
    }

    public int ProjectionHidden => _hidden;
    public Parameter Embedding => _embedding;
    public override IReadOnlyList<Parameter> Parameters => _parameters;
    public override string Kind => "mlp";

    protected override Tensor ComputeBank()
    {
        int P = PrefixLen, C = Config.HiddenSize;
        Backend.Gemm(false, true, P, _hidden, C, 1f, _embedding.Value, 0, C, _w0.Value, 0, C, 0f, _pre, 0, _hidden);
        Backend.BiasActivation(_pre, _b0.Value, _act, P, _hidden, Activation.Tanh);
        Backend.Gemm(false, true, P, _width, _hidden, 1f, _act, 0, _hidden, _w2.Value, 0, _hidden, 0f, _out, 0, _width);
        Backend.BiasActivation(_out, _b2.Value, _out, P, _width, Activation.None);
        Backend.PermutePrefix(_out, _bank, P, Layers, Config.NumHeads, Config.HeadDim, toPeft: false);
        return _bank;
    }

    protected override void BackwardBank(Tensor bankGrad)
    {
        int P = PrefixLen, C = Config.HiddenSize;
        Backend.PermutePrefix(bankGrad, _dOut, P, Layers, Config.NumHeads, Config.HeadDim, toPeft: true);
        Backend.Gemm(true, false, _width, _hidden, P, 1f, _dOut, 0, _width, _act, 0, _hidden, 1f, _w2.Grad, 0, _hidden);
        Backend.ColumnSums(_dOut, _b2.Grad, P, _width, accumulate: true);
        Backend.Gemm(false, false, P, _hidden, _width, 1f, _dOut, 0, _width, _w2.Value, 0, _hidden, 0f, _dAct, 0, _hidden);
        Backend.ActivationBackward(Activation.Tanh, _dAct, _act, _dAct, (long)P * _hidden);
        Backend.Gemm(true, false, _hidden, C, P, 1f, _dAct, 0, _hidden, _embedding.Value, 0, C, 1f, _w0.Grad, 0, C);
        Backend.ColumnSums(_dAct, _b0.Grad, P, _hidden, accumulate: true);
        Backend.Gemm(false, false, P, C, _hidden, 1f, _dAct, 0, _hidden, _w0.Value, 0, C, 1f, _embedding.Grad, 0, C);
    }

    public override void Dispose()
    {
        foreach (var p in Parameters) p.Dispose();
        foreach (var t in new[] { _pre, _act, _out, _bank, _dOut, _dAct }) t.Dispose();
        base.Dispose();
    }
}
