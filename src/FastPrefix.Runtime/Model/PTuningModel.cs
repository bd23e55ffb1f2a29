using FastPrefix.Backends;
using FastPrefix.Model.Heads;

namespace FastPrefix.Model;

/// <summary>Dropout and position behaviour of a P-Tuning v2 model; null probabilities come from the config.</summary>
public sealed record PTuningOptions
{
    public PositionMode Positions { get; init; } = PositionMode.FromZero;
    /// <summary>Dropout inside the backbone and on the head input (default: config hidden_dropout_prob).</summary>
    public float? HiddenDropout { get; init; }
    /// <summary>Dropout on attention probabilities (default: config attention_probs_dropout_prob).</summary>
    public float? AttentionDropout { get; init; }
    /// <summary>Dropout on the prefix keys/values (default: config hidden_dropout_prob, as the reference).</summary>
    public float? PrefixDropout { get; init; }
}

/// <summary>
/// Frozen encoder + trainable prefix + task head. <see cref="Forward"/> gives logits and (with targets) the loss;
/// <see cref="Backward"/> accumulates gradients into <see cref="Parameters"/> (the prefix and the head only).
/// <para>
/// Buffers are planned for (rows, length) by <see cref="Plan"/> (or on the first batch that does not fit), and a
/// pass is three parts: <see cref="Stage"/> writes the batch into the host staging area (validating it), one upload,
/// then <see cref="RunForward"/> / <see cref="Backward"/> run backend ops only. Sequence lengths are padded to
/// multiples of <see cref="IBackend.SequenceBucket"/>; padding tokens and rows count for nothing.
/// </para>
/// </summary>
public sealed class PTuningModel : IDisposable
{
    /// <summary>results tensor: loss (float pair), gradient norm, clip coefficient.</summary>
    public const int LossIndex = 0, NormIndex = 2, ClipIndex = 3;

    StepStaging? _staging;
    EncoderPlan? _plan;
    StagingRegion _scalars, _slot;
    Tensor? _scalarsView;
    readonly Tensor _results;
    TaskBatch? _staged;
    bool _stagedTraining, _ranForward, _canBackward;
    PrefixInput? _prefixInput;
    CapturedOpsCache<(int Batch, int Seq, bool Targets)>? _passGraphs;   // inference passes (a new plan invalidates them)
    readonly Action _forwardOps;   // ForwardOps as a delegate made once

    public PTuningModel(Encoder encoder, Prefix prefix, TaskHead head, PTuningOptions? options = null)
    {
        if (prefix.Config != encoder.Config || head.Config != encoder.Config)
            throw new ArgumentException("prefix, head and encoder must be built for the same config");
        if (head.Tasks != 1 && head.Tasks != prefix.Adapters)
            throw new ArgumentException($"head has {head.Tasks} tasks but the prefix bank has {prefix.Adapters}");
        Encoder = encoder; Prefix = prefix; Head = head; Options = options ?? new PTuningOptions();
        Parameters = [.. prefix.Parameters, .. head.Parameters];
        _results = Backend.Zeros(4);
        _forwardOps = ForwardOps;
    }

    public Encoder Encoder { get; }
    public Prefix Prefix { get; }
    public TaskHead Head { get; }
    public PTuningOptions Options { get; }
    public EncoderConfig Config => Encoder.Config;
    public IBackend Backend => Encoder.Backend;
    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>
    /// Replay inference passes (<see cref="RunForward"/> without training, on a plan without gradients or a batch
    /// without targets) as one recorded graph per batch shape where the backend can record (CUDA); bit-identical to
    /// issuing the ops. Training steps record through TrainingStep.
    /// </summary>
    public bool UseGraphs { get; set; } = true;

    /// <summary>Inference passes served by replaying a recording so far.</summary>
    public int PassGraphReplays => _passGraphs?.Replays ?? 0;

    /// <summary>Operations in the latest recorded inference pass (0 before the first).</summary>
    public int PassGraphOperations => _passGraphs?.Operations ?? 0;

    float HiddenDropout => Options.HiddenDropout ?? Config.HiddenDropout;
    float AttentionDropout => Options.AttentionDropout ?? Config.AttentionDropout;
    float PrefixDropout => Options.PrefixDropout ?? Config.HiddenDropout;

    // ---- planning ----

    /// <summary>The current plan (null before the first <see cref="Plan"/> or batch).</summary>
    public EncoderPlan? CurrentPlan => _plan;
    /// <summary>The step's staging area (one upload per step).</summary>
    public StepStaging Staging => _staging ?? throw new InvalidOperationException("the model has no plan yet");
    /// <summary>Device results of the last step: loss (float pair at <see cref="LossIndex"/>), gradient norm, clip coefficient.</summary>
    public Tensor Results => _results;
    /// <summary>Staged per-step optimiser scalars (lr, stepSize, invSqrtBc2) read by AdamW.</summary>
    public StagingRegion OptimizerScalars => _scalars;
    public Tensor OptimizerScalarsView => _scalarsView ?? throw new InvalidOperationException("the model has no plan yet");
    /// <summary>A staged int (the ring slot a trainer records the step's results into).</summary>
    public StagingRegion ResultSlot => _slot;

    /// <summary>
    /// Plans every buffer for batches of up to <paramref name="maxRows"/> encoder rows (examples × choices for multiple
    /// choice) of up to <paramref name="maxSeq"/> tokens; <paramref name="training"/> keeps what a backward needs.
    /// </summary>
    public void Plan(int maxRows, int maxSeq, bool training)
    {
        int bucket = Math.Max(1, Backend.SequenceBucket);
        maxSeq = Math.Min(RoundUp(maxSeq, bucket), Math.Max(maxSeq, Config.MaxPositionEmbeddings));
        _plan?.Dispose(); _staging?.Dispose();
        _staging = new StepStaging(Backend);
        _plan = Encoder.Plan(_staging, new EncoderPlanSize(maxRows, maxSeq, Prefix.PrefixLen, Prefix.FirstLayer, training ? Prefix.FirstLayer : Config.NumLayers));
        Head.Plan(_staging, maxRows, maxSeq);
        _scalars = _staging.Reserve(3);
        _slot = _staging.Reserve(1);
        _staging.Allocate();
        _plan.Bind();
        Head.Bind();
        _scalarsView = _staging.View(_scalars, TensorType.Float32);
        _ranForward = _canBackward = false;
    }

    static int RoundUp(int n, int m) => (n + m - 1) / m * m;

    bool Fits(TaskBatch batch, bool training) =>
        _plan is { } p && batch.Inputs.Batch <= p.Size.MaxBatch && batch.Inputs.Seq <= p.Size.MaxSeq && (!training || p.Activations.HiddenGrad != null);

    // ---- a pass ----

    /// <summary>
    /// Writes the batch into the staging area (host only): padded to the length bucket, and to the planned rows when
    /// <paramref name="padRows"/> (fixed shapes for every step); validated. <paramref name="seed"/> drives dropout.
    /// </summary>
    public void Stage(TaskBatch batch, bool training, ulong seed, bool padRows = false)
    {
        if (Head.Kind == TaskKind.MultipleChoice && (batch.Choices <= 0 || batch.Inputs.Batch % batch.Choices != 0))
            throw new ArgumentException($"multiple choice: {batch.Inputs.Batch} rows is not a multiple of {batch.Choices} choices");
        var plan = _plan ?? throw new InvalidOperationException("the model has no plan: call Plan first");
        int per = Head.RowsPerExample(batch);
        int rows = padRows ? plan.Size.MaxBatch / per * per : batch.Inputs.Batch;
        int seq = Math.Min(RoundUp(batch.Inputs.Seq, Math.Max(1, Backend.SequenceBucket)), plan.Size.MaxSeq);
        plan.Stage(batch.Inputs, Math.Max(rows, batch.Inputs.Batch), seq, Prefix.PrefixLen, Prefix.Adapters, Options.Positions, seed);
        Head.Stage(batch, plan);
        _staged = batch; _stagedTraining = training;
        _ranForward = _canBackward = false;
    }

    /// <summary>The forward pass over the staged batch (ops only); with targets also the loss into <see cref="Results"/>.</summary>
    public void RunForward()
    {
        var plan = _plan!; var batch = _staged ?? throw new InvalidOperationException("no batch is staged");
        bool canBackward = batch.HasTargets && plan.Activations.HiddenGrad != null;
        // Only passes no Backward can follow are replayed: a Backward reads host state the pass's ops set (the prefix
        // input, its dropout), which a replay does not.
        if (_stagedTraining || canBackward || !UseGraphs) ForwardOps();
        else (_passGraphs ??= new CapturedOpsCache<(int, int, bool)>(Backend)).Run((plan.Batch, plan.Seq, batch.HasTargets), _forwardOps);
        _ranForward = true;
        _canBackward = canBackward;
    }

    void ForwardOps()
    {
        var plan = _plan!; var batch = _staged!;
        bool training = _stagedTraining;
        _prefixInput = Prefix.Prepare(training, PrefixDropout, new DropoutSeed(plan.Seeds, DropoutSites.Prefix));
        Encoder.Forward(plan, _prefixInput, PassOptions(training));
        Head.Forward(plan, training, HiddenDropout);
        if (batch.HasTargets) Head.Loss(plan, _results);
    }

    EncoderPassOptions PassOptions(bool training) => new()
    {
        Training = training, HiddenDropout = HiddenDropout, AttentionDropout = AttentionDropout,
        Positions = Options.Positions, ComputePooled = Head.UsesPooled,
    };

    /// <summary>
    /// One forward pass. In training mode dropout is on, drawn from <paramref name="seed"/> (same seed, same masks).
    /// Plans (or grows the plan) when the batch does not fit; batches without targets larger than the plan run in parts.
    /// </summary>
    public HeadOutput Forward(TaskBatch batch, bool training = false, ulong seed = 0)
    {
        if (!Fits(batch, batch.HasTargets))
        {
            if (!batch.HasTargets && _plan != null && batch.Inputs.Seq <= _plan.Size.MaxSeq) return ForwardInParts(batch, training, seed);
            Plan(Math.Max(batch.Inputs.Batch, _plan?.Size.MaxBatch ?? 0), Math.Max(batch.Inputs.Seq, _plan?.Size.MaxSeq ?? 0),
                 batch.HasTargets || _plan?.Activations.HiddenGrad != null);
        }
        Stage(batch, training, seed);
        Staging.Upload();
        RunForward();
        return Read();
    }

    /// <summary>Downloads the last forward's logits (and loss when it had targets).</summary>
    public HeadOutput Read()
    {
        if (!_ranForward) throw new InvalidOperationException("no forward pass has run on the staged batch");
        double? loss = _staged!.HasTargets ? ReadLoss() : null;
        return Head.Read(_staged, _plan!, loss);
    }

    double ReadLoss()
    {
        Span<float> pair = stackalloc float[2];
        Backend.Download(_results, pair);
        return (double)pair[0] + pair[1];
    }

    HeadOutput ForwardInParts(TaskBatch batch, bool training, ulong seed)
    {
        var inputs = batch.Inputs;
        int per = Head.RowsPerExample(batch), step = _plan!.Size.MaxBatch / per * per, T = inputs.Seq, O = Head.Outputs;
        if (step <= 0) throw new ArgumentException($"the plan holds {_plan.Size.MaxBatch} rows, fewer than one example of {per}");
        var parts = new List<float[]>();
        for (int r0 = 0; r0 < inputs.Batch; r0 += step)
        {
            int n = Math.Min(step, inputs.Batch - r0);
            var part = new EncoderBatch(n, T, inputs.InputIds[(r0 * T)..((r0 + n) * T)], inputs.AttentionMask[(r0 * T)..((r0 + n) * T)],
                inputs.TokenTypeIds[(r0 * T)..((r0 + n) * T)], inputs.RowAdapter?[r0..(r0 + n)]);
            parts.Add(Forward(new TaskBatch { Inputs = part, Choices = batch.Choices }, training, seed).Logits);
        }
        return Head.Output(batch, parts.SelectMany(p => p).ToArray(), null);
    }

    /// <summary>Accumulates d(loss)/d(parameter) of the last forward into each parameter's Grad (ops only).</summary>
    public void Backward()
    {
        if (!_canBackward) throw new InvalidOperationException("Backward needs a forward pass with targets first");
        var plan = _plan!;
        Head.Backward(plan);
        Encoder.Backward(plan, _prefixInput!, PassOptions(_stagedTraining), hiddenGrad: !Head.UsesPooled, pooledGrad: Head.UsesPooled, Prefix.BankGrad);
        Prefix.Backward();
        _canBackward = false;
    }

    public void ZeroGrad() { foreach (var p in Parameters) p.ZeroGrad(); }

    public void Dispose() { _passGraphs?.Dispose(); _plan?.Dispose(); _staging?.Dispose(); _results.Dispose(); Prefix.Dispose(); Head.Dispose(); }
}
