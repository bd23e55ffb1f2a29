using FastPrefix.Backends;

namespace FastPrefix.Model.Heads;

/// <summary>
/// A trainable linear head on the encoder output (pooled or per token), one weight per task so a mixed batch can
/// route each row to its own head. Its targets are staged with the step (validated there); forward, loss and
/// backward are backend ops on buffers planned with the model's encoder plan.
/// </summary>
public abstract class TaskHead : IDisposable
{
    protected readonly IBackend Backend;
    readonly Parameter _weight, _bias;
    readonly Parameter[] _parameters;
    // planned
    Tensor? _dropped, _logits, _dLogits, _indexView, _labelsView, _limitView;
    StagingRegion _index, _labels, _limit;
    StepStaging? _staging;
    int _rows;
    bool _droppedLast;
    float _dropout;

    protected TaskHead(IBackend backend, EncoderConfig config, int outputs, int tasks, string prefix)
    {
        if (outputs <= 0) throw new ArgumentException($"a head needs at least one output, got {outputs}");
        if (tasks <= 0) throw new ArgumentException($"number of tasks must be positive, got {tasks}");
        Backend = backend; Config = config; Outputs = outputs; Tasks = tasks;
        int C = config.HiddenSize;
        _weight = new Parameter(backend, prefix + ".weight", tasks == 1 ? [outputs, C] : [tasks, outputs, C]);
        _bias = new Parameter(backend, prefix + ".bias", tasks == 1 ? [outputs] : [tasks, outputs], decay: false);
        _parameters = [_weight, _bias];
    }

    public EncoderConfig Config { get; }
    public int Outputs { get; }
    public int Tasks { get; }
    public Parameter Weight => _weight;
    public Parameter Bias => _bias;
    public IReadOnlyList<Parameter> Parameters => _parameters;
    public abstract TaskKind Kind { get; }
    /// <summary>True when the head reads the pooled output (B, C), false for every token (B·T, C).</summary>
    public abstract bool UsesPooled { get; }
    /// <summary>Whether the reference applies dropout to the head's input while training.</summary>
    protected virtual bool AppliesDropout => true;

    /// <summary>Encoder rows that make one example (choices for multiple choice, else 1).</summary>
    public virtual int RowsPerExample(TaskBatch batch) => 1;

    /// <summary>Labels staged per head row (token heads: per token) or per example.</summary>
    protected virtual int LabelCapacity(int maxBatch, int maxSeq) => UsesPooled ? maxBatch : maxBatch * maxSeq;

    // ---- planning ----

    /// <summary>Reserves the head's staged inputs and allocates its buffers for up to maxBatch rows of maxSeq tokens.</summary>
    public void Plan(StepStaging staging, int maxBatch, int maxSeq)
    {
        DisposeBuffers();
        int rows = UsesPooled ? maxBatch : checked(maxBatch * maxSeq), C = Config.HiddenSize;
        _staging = staging;
        _index = staging.Reserve(rows);
        _labels = staging.Reserve(LabelCapacity(maxBatch, maxSeq));
        _limit = staging.Reserve(1);
        _indexView = _labelsView = _limitView = null;
        _dropped = Backend.ZerosCompute(rows, C); _logits = Backend.Zeros(rows, Outputs); _dLogits = Backend.Zeros(rows, Outputs);
    }

    /// <summary>Creates the views of the staged regions (after the staging area is allocated, before any step).</summary>
    public void Bind() { _indexView = Staging.View(_index); _labelsView = Staging.View(_labels); _limitView = Staging.View(_limit); }

    static Tensor Bound(Tensor? view) => view ?? throw new InvalidOperationException("the head's staging area is not bound yet");
    protected StepStaging Staging => _staging ?? throw new InvalidOperationException("the head has no plan");
    protected Tensor Index => Bound(_indexView);
    protected Tensor Labels => Bound(_labelsView);
    protected Tensor ClassLimit => Bound(_limitView);
    protected StagingRegion LabelsRegion => _labels;
    protected Tensor Logits => _logits!;
    protected Tensor DLogits => _dLogits!;

    // ---- staging (host) ----

    /// <summary>Writes the task index of every head row and, when the batch has targets, its labels (validated).</summary>
    public void Stage(TaskBatch batch, EncoderPlan plan) => Stage(batch, plan, plan.HostRowAdapter);

    /// <summary>As <see cref="Stage(TaskBatch, EncoderPlan)"/> with each batch row's task given (e.g. all 0 for a
    /// one-task head applied to a pass whose rows use several prefixes).</summary>
    public void Stage(TaskBatch batch, EncoderPlan plan, ReadOnlySpan<int> rowTask)
    {
        int rows = UsesPooled ? plan.Batch : plan.Rows, perRow = UsesPooled ? 1 : plan.Seq;
        _rows = rows;
        var index = Staging.Ints(_index)[..rows];
        var adapters = rowTask;
        for (int r = 0; r < rows; r++)
        {
            int t = adapters[r / perRow];
            if ((uint)t >= (uint)Tasks) throw new ArgumentException($"row {r / perRow} uses task {t} but the head has {Tasks}");
            index[r] = t;
        }
        Staging.Ints(_limit)[0] = plan.LogicalSeq;
        if (batch.HasTargets) StageTargets(batch, plan, Staging.Ints(_labels));
    }

    /// <summary>Writes the labels the loss reads (padding rows and tokens: <see cref="Losses.IgnoreIndex"/>).</summary>
    protected abstract void StageTargets(TaskBatch batch, EncoderPlan plan, Span<int> labels);

    /// <summary>Checks one label: <see cref="Losses.IgnoreIndex"/> or a class in 0..classes-1.</summary>
    protected static int CheckLabel(int label, int classes, string what, int index)
    {
        if (label != Losses.IgnoreIndex && (uint)label >= (uint)classes)
            throw new ArgumentOutOfRangeException("labels", $"label {label} of {what} {index} is outside 0..{classes - 1}");
        return label;
    }

    // ---- ops ----

    Tensor Input(EncoderPlan plan) => UsesPooled ? plan.Activations.Pooled : plan.Hidden;

    /// <summary>Logits of every head row (ops only).</summary>
    public void Forward(EncoderPlan plan, bool training, float dropout)
    {
        int C = Config.HiddenSize;
        Tensor x = Input(plan);
        _droppedLast = training && dropout > 0 && AppliesDropout;
        _dropout = dropout;
        if (_droppedLast)
        {
            Backend.Dropout(x, _dropped!, (long)_rows * C, dropout, new DropoutSeed(plan.Seeds, DropoutSites.Head));
            x = _dropped!;
        }
        Backend.BankedLinear(x, _weight.Value, _bias.Value, Index, _logits!, _rows, C, Outputs);
    }

    /// <summary>The mean loss into results[0..1] (a float pair) and dLogits (ops only).</summary>
    public abstract void Loss(EncoderPlan plan, Tensor results);

    /// <summary>Accumulates the head's parameter gradients and writes the gradient of its input into the plan (ops only).</summary>
    public void Backward(EncoderPlan plan)
    {
        int C = Config.HiddenSize;
        var a = plan.Activations;
        var dx = (UsesPooled ? a.PooledGrad : a.HiddenGrad) ?? throw new InvalidOperationException("Backward needs a training plan");
        Backend.BankedLinearBackward(_dLogits!, _droppedLast ? _dropped! : Input(plan), _weight.Value, Index, dx, _weight.Grad, _bias.Grad, _rows, C, Outputs);
        if (_droppedLast) Backend.DropoutBackward(dx, dx, (long)_rows * C, _dropout, new DropoutSeed(plan.Seeds, DropoutSites.Head));
    }

    // ---- results (host) ----

    /// <summary>Downloads the logits of the real rows and tokens and presents them in the task's shape.</summary>
    public HeadOutput Read(TaskBatch batch, EncoderPlan plan, double? loss)
    {
        int realRows = UsesPooled ? batch.Inputs.Batch : batch.Inputs.Batch * plan.Seq;
        var all = new float[(long)realRows * Outputs];
        Backend.Download(_logits!, all);
        float[] logits = all;
        if (!UsesPooled && plan.Seq != plan.LogicalSeq)
        {
            int T = plan.LogicalSeq, Tb = plan.Seq, O = Outputs;
            logits = new float[(long)batch.Inputs.Batch * T * O];
            for (int b = 0; b < batch.Inputs.Batch; b++) Array.Copy(all, (long)b * Tb * O, logits, (long)b * T * O, (long)T * O);
        }
        return Shape(batch, logits, loss);
    }

    /// <summary>Presents logits of the batch's real rows and tokens (host) in the task's natural shape.</summary>
    public HeadOutput Output(TaskBatch batch, float[] logits, double? loss) => Shape(batch, logits, loss);

    protected abstract HeadOutput Shape(TaskBatch batch, float[] logits, double? loss);

    void DisposeBuffers() { foreach (var t in new[] { _dropped, _logits, _dLogits }) t?.Dispose(); }

    public void Dispose() { DisposeBuffers(); _weight.Dispose(); _bias.Dispose(); }

    public static TaskHead Create(TaskKind kind, IBackend backend, EncoderConfig config, int numLabels, int tasks = 1) => kind switch
    {
        TaskKind.SequenceClassification => new SequenceClassificationHead(backend, config, numLabels, tasks),
        TaskKind.TokenClassification => new TokenClassificationHead(backend, config, numLabels, tasks),
        TaskKind.QuestionAnswering => new QuestionAnsweringHead(backend, config, tasks),
        TaskKind.MultipleChoice => new MultipleChoiceHead(backend, config, tasks),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}
