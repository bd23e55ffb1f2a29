using FastPrefix.Adapters;
using FastPrefix.Backends;
using FastPrefix.Data.Features;
using FastPrefix.Model;
using FastPrefix.Model.Heads;

namespace FastPrefix.Inference;

/// <summary>
/// Which adapters may share one encoder pass: the prefix must have the same length and first layer (a shorter
/// prefix cannot be padded — every prefix column is attended to — and layers below the first have no prefix
/// columns at all), and positions must be numbered the same way.
/// </summary>
internal readonly record struct PassShape(int PrefixLen, int FirstLayer, PositionMode Positions);

/// <summary>
/// One adapter as the engine holds it: its head (with a staging area of its own for its row indices, planned for the
/// pass plan it last ran on) and its prefix bank (L', 2, H, P, D), computed once.
/// </summary>
internal sealed class EngineAdapter(TaskHead head, Tensor bank, PassShape shape)
{
    public TaskHead Head { get; } = head;
    public Tensor Bank { get; } = bank;
    public PassShape Shape { get; } = shape;
    public int Outputs => Head.Outputs;
    public StepStaging? HeadStaging { get; set; }
    public EncoderPlan? HeadPlannedFor { get; set; }
}

/// <summary>
/// Every call the adapter host makes into the engine, kept in this one class so that it is the only place to adapt
/// when the engine's internals change: loading an adapter onto the backbone, building the prefix bank of a pass,
/// the encoder pass, and each adapter's head on its rows. Not thread-safe: only the host's engine thread calls it.
/// </summary>
internal sealed class HostEngine : IDisposable
{
    readonly IBackend _backend;
    readonly EncoderWeights _weights;
    readonly Encoder _encoder;
    // Bank tensors for passes that mix adapters, one per size: the encoder checks a bank's length exactly.
    readonly Dictionary<long, Tensor> _mixedBanks = [];
    // One planned encoder pass per prefix shape, grown when a pass does not fit.
    readonly Dictionary<PassShape, EncoderPlan> _plans = [];

    public HostEngine(string modelDir, string device, Action<string>? notice, string? precision = null)
    {
        _backend = BackendFactory.Create(device, precision, notice);
        try
        {
            _weights = ModelFolder.LoadWeights(_backend, modelDir);
            _encoder = new Encoder(_backend, _weights);
        }
        catch
        {
            _weights?.Dispose();
            _backend.Dispose();
            throw;
        }
    }

    public EncoderConfig Config => _encoder.Config;
    public string BackendName => _backend.Name;

    /// <summary>A PEFT folder read and checked against this backbone (the head check reads the backbone's pooler).</summary>
    public AdapterContents ReadPeft(string folder, PeftImportOptions options) => PeftPrefixAdapter.Read(folder, _encoder, options);

    /// <summary>Builds the adapter on the backbone (checked against it), computes its bank once and keeps only the bank and head.</summary>
    public EngineAdapter Load(AdapterContents contents, string? backboneFingerprint)
    {
        var model = AdapterFile.Load(contents, _encoder, backboneFingerprint);
        Tensor? bank = null;
        try
        {
            if (model.Head.UsesPooled && _weights.PoolerWeight == null)
                throw new AdapterException($"{contents.Source}: a {AdapterMetadata.TaskName(model.Head.Kind)} head reads the pooled output, " +
                                           "but the backbone has no pooler (pooler.dense.weight)");
            var prefix = model.Prefix.Prepare();
            bank = _backend.Zeros(model.Prefix.BankShape);
            _backend.Copy(prefix.Bank, 0, bank, 0, bank.Length);
            var shape = new PassShape(model.Prefix.PrefixLen, model.Prefix.FirstLayer, model.Options.Positions);
            model.Prefix.Dispose();
            model.Results.Dispose();   // the engine keeps only the bank and the head of the model it built
            return new EngineAdapter(model.Head, bank, shape);
        }
        catch
        {
            bank?.Dispose();
            model.Dispose();
            throw;
        }
    }

    public void Release(EngineAdapter adapter)
    {
        adapter.Head.Dispose();
        adapter.Bank.Dispose();
        adapter.HeadStaging?.Dispose();
    }

    /// <summary>
    /// One encoder pass over <paramref name="rows"/>; row i belongs to adapters[rowAdapter[i]], and all adapters have
    /// the same <see cref="PassShape"/>. Returns each row's head output: Outputs values for heads on the pooled output,
    /// (row length × Outputs) for heads on every token.
    /// </summary>
    public float[][] Run(IReadOnlyList<EngineAdapter> adapters, IReadOnlyList<EncodedRow> rows, int[] rowAdapter, int padId)
    {
        var shape = adapters[0].Shape;
        if (adapters.Any(a => a.Shape != shape)) throw new ArgumentException("adapters of one pass must share prefix length, first layer and positions");
        bool mixed = adapters.Count > 1;
        var batch = BatchBuilder.Pack(rows, padId, out int seq, mixed ? rowAdapter : null);
        int bucket = Math.Max(1, _backend.SequenceBucket);
        int padded = Math.Min((seq + bucket - 1) / bucket * bucket, Math.Max(seq, _encoder.Config.MaxPositionEmbeddings));
        var plan = PlanFor(shape, batch.Batch, padded);
        plan.Stage(batch, batch.Batch, padded, shape.PrefixLen, adapters.Count, shape.Positions, stepSeed: 0);
        plan.Staging.Upload();
        _encoder.Forward(plan, MixedBank(adapters), new EncoderPassOptions
        {
            Training = false,
            Positions = shape.Positions,
            ComputePooled = adapters.Any(a => a.Head.UsesPooled),
        });

        // A head of one task reads every row as its own (task index 0); each adapter keeps only its rows' logits.
        var headBatch = new TaskBatch { Inputs = mixed ? new EncoderBatch(batch.Batch, seq, batch.InputIds, batch.AttentionMask, batch.TokenTypeIds) : batch };
        var oneTask = new int[batch.Batch];
        var outputs = new float[rows.Count][];
        for (int a = 0; a < adapters.Count; a++)
        {
            var adapter = adapters[a];
            var head = adapter.Head;
            if (adapter.HeadPlannedFor != plan)
            {
                adapter.HeadStaging?.Dispose();
                adapter.HeadStaging = new StepStaging(_backend);
                head.Plan(adapter.HeadStaging, plan.Size.MaxBatch, plan.Size.MaxSeq);
                adapter.HeadStaging.Allocate();
                head.Bind();
                adapter.HeadPlannedFor = plan;
            }
            head.Stage(headBatch, plan, oneTask);
            adapter.HeadStaging!.Upload();
            head.Forward(plan, training: false, dropout: 0);
            var logits = head.Read(headBatch, plan, null).Logits;
            int o = head.Outputs;
            for (int r = 0; r < rows.Count; r++)
            {
                if (rowAdapter[r] != a) continue;
                outputs[r] = head.UsesPooled
                    ? logits.AsSpan(r * o, o).ToArray()
                    : logits.AsSpan(r * seq * o, rows[r].Length * o).ToArray();
            }
        }
        return outputs;
    }

    /// <summary>The encoder plan of a prefix shape holding at least rows × seq (inference only: no activations kept).</summary>
    EncoderPlan PlanFor(PassShape shape, int rows, int seq)
    {
        if (_plans.TryGetValue(shape, out var plan) && plan.Size.MaxBatch >= rows && plan.Size.MaxSeq >= seq) return plan;
        var size = new EncoderPlanSize(Math.Max(rows, plan?.Size.MaxBatch ?? 0), Math.Max(seq, plan?.Size.MaxSeq ?? 0),
            shape.PrefixLen, shape.FirstLayer, _encoder.Config.NumLayers);
        if (plan != null) { plan.Dispose(); plan.Staging.Dispose(); }
        var staging = new StepStaging(_backend);
        plan = _encoder.Plan(staging, size);
        staging.Allocate();
        plan.Bind();
        return _plans[shape] = plan;
    }

    /// <summary>The prefix bank of a pass: the adapter's own bank, or the adapters' banks side by side (A, L', 2, H, P, D).</summary>
    PrefixInput MixedBank(IReadOnlyList<EngineAdapter> adapters)
    {
        var shape = adapters[0].Shape;
        if (adapters.Count == 1) return new PrefixInput(adapters[0].Bank, 1, shape.PrefixLen, shape.FirstLayer);
        long each = adapters[0].Bank.Length, total = each * adapters.Count;
        if (!_mixedBanks.TryGetValue(total, out var bank))
        {
            int[] one = adapters[0].Bank.Shape;
            _mixedBanks[total] = bank = _backend.Zeros([adapters.Count, .. one]);
        }
        for (int a = 0; a < adapters.Count; a++) _backend.Copy(adapters[a].Bank, 0, bank, a * each, each);
        return new PrefixInput(bank, adapters.Count, shape.PrefixLen, shape.FirstLayer);
    }

    public void Dispose()
    {
        foreach (var t in _mixedBanks.Values) t.Dispose();
        foreach (var p in _plans.Values) { p.Dispose(); p.Staging.Dispose(); }
        _encoder.Dispose();
        _weights.Dispose();
        _backend.Dispose();
    }
}
