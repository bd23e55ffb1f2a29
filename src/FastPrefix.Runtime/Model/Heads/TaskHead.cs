using FastPrefix.Backends;

namespace FastPrefix.Model.Heads;

/// <summary>
/// A trainable linear head on the encoder output (pooled or per token), one weight per task so a mixed
/// batch can route each row to its own head. Forward runs on the backend; the loss on host logits.
/// </summary>
public abstract class TaskHead : IDisposable
{
    protected readonly IBackend Backend;
    readonly Parameter _weight, _bias;
    Tensor? _x, _mask, _index, _logits, _dLogits, _dx;
    int _capacity, _rows;
    bool _dropped;
    Tensor? _input;
    // Host scratch, sized with the device buffers, so a step allocates only the logits it returns.
    int[] _indexHost = [];
    double[] _dLogitsHost = [], _biasGradHost = [];
    float[] _dLogitsUpload = [], _biasHost = [];
    readonly Parameter[] _parameters;

    protected TaskHead(IBackend backend, EncoderConfig config, int outputs, int tasks, string prefix)
    {
        if (outputs <= 0) throw new ArgumentException($"a head needs at least one output, got {outputs}");
        if (tasks <= 0) throw new ArgumentException($"number of tasks must be positive, got {tasks}");
        Backend = backend; Config = config; Outputs = outputs; Tasks = tasks;
        int C = config.HiddenSize;
        _weight = new Parameter(backend, prefix + ".weight", tasks == 1 ? [outputs, C] : [tasks, outputs, C]);
        _bias = new Parameter(backend, prefix + ".bias", tasks == 1 ? [outputs] : [tasks, outputs], decay: false);
        _parameters = [_weight, _bias];
        _biasGradHost = new double[tasks * outputs];
        _biasHost = new float[tasks * outputs];
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

    /// <summary>Gradient of the head's input (pooled or hidden) after <see cref="Backward"/>.</summary>
    public Tensor InputGrad => _dx ?? throw new InvalidOperationException("no backward has run");

    public HeadOutput Forward(Encoder encoder, TaskBatch batch, bool training, float dropout, ulong seed)
    {
        var inputs = batch.Inputs;
        int rows = UsesPooled ? inputs.Batch : inputs.Rows, C = Config.HiddenSize;
        Ensure(rows);
        _rows = rows;
        var index = _indexHost.AsSpan(0, rows);
        int perRow = UsesPooled ? 1 : inputs.Seq;
        for (int r = 0; r < rows; r++)
        {
            int t = inputs.RowAdapter?[r / perRow] ?? 0;
            if ((uint)t >= (uint)Tasks) throw new ArgumentException($"row {r / perRow} uses task {t} but the head has {Tasks}");
            index[r] = t;
        }
        Backend.Upload((ReadOnlySpan<int>)index, _index!);
        _input = UsesPooled ? encoder.Pooled : encoder.Hidden;
        _dropped = training && dropout > 0 && AppliesDropout;
        Tensor x = _input;
        if (_dropped) { Backend.Dropout(_input, _x!, _mask!, (long)rows * C, dropout, seed); x = _x!; }
        Backend.BankedLinear(x, _weight.Value, _bias.Value, _index!, _logits!, rows, C, Outputs);
        var logits = new float[rows * Outputs];
        Backend.Download(_logits!, logits);
        double? loss = null;
        if (batch.HasTargets)
        {
            int n = logits.Length;
            loss = Loss(batch, logits, _dLogitsHost);
            for (int i = 0; i < n; i++) _dLogitsUpload[i] = (float)_dLogitsHost[i];
            Backend.Upload(_dLogitsUpload.AsSpan(0, n), _dLogits!);
            BiasGradient(rows);
        }
        return Shape(batch, logits, loss);
    }

    /// <summary>
    /// Mean loss of the batch from host logits (rows, Outputs); writes dLoss/dLogits into the first rows·Outputs
    /// entries of <paramref name="dLogits"/> (a reused buffer that may be longer).
    /// </summary>
    protected abstract double Loss(TaskBatch batch, float[] logits, double[] dLogits);

    /// <summary>
    /// db[task, o] = Σ rows of that task dLogits[r, o], summed in double on the host from the unrounded loss
    /// gradient: a bias shared by all classes then gets a gradient that is zero to 1e-16 when it is zero in theory.
    /// </summary>
    void BiasGradient(int rows)
    {
        Array.Clear(_biasGradHost);
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < Outputs; o++) _biasGradHost[_indexHost[r] * Outputs + o] += _dLogitsHost[r * Outputs + o];
    }
    /// <summary>Mean cross entropy over the rows whose label is not -100 (labels: one per row).</summary>
    protected static double MeanCrossEntropy(int[]? labels, int rows, int classes, float[] logits, double[] dLogits, string missing)
    {
        if (labels == null) throw new ArgumentException(missing);
        if (labels.Length != rows) throw new ArgumentException($"{labels.Length} labels for {rows} rows");
        int kept = Math.Max(1, Losses.CountKept(labels));
        var (sum, _) = Losses.CrossEntropy(logits, rows, classes, labels, dLogits, 1.0 / kept);
        return sum / kept;
    }

    /// <summary>Presents the logits in the task's natural shape.</summary>
    protected abstract HeadOutput Shape(TaskBatch batch, float[] logits, double? loss);

    /// <summary>Accumulates the head's parameter gradients and computes <see cref="InputGrad"/>.</summary>
    public void Backward()
    {
        if (_input == null) throw new InvalidOperationException("Backward needs a forward pass with targets first");
        int C = Config.HiddenSize;
        Backend.BankedLinearBackward(_dLogits!, _dropped ? _x! : _input, _weight.Value, _index!, _dx!, _weight.Grad, null, _rows, C, Outputs);
        Backend.Download(_bias.Grad, _biasHost);
        for (int i = 0; i < _biasHost.Length; i++) _biasHost[i] = (float)(_biasHost[i] + _biasGradHost[i]);
        Backend.Upload(_biasHost, _bias.Grad);
        if (_dropped) Backend.Multiply(_dx!, _mask!, _dx!, (long)_rows * C);
    }

    void Ensure(int rows)
    {
        if (rows <= _capacity) return;
        DisposeBuffers();
        int C = Config.HiddenSize;
        _x = Backend.Zeros(rows, C); _mask = Backend.Zeros(rows, C); _dx = Backend.Zeros(rows, C);
        _index = Backend.ZerosInt(rows); _logits = Backend.Zeros(rows, Outputs); _dLogits = Backend.Zeros(rows, Outputs);
        _indexHost = new int[rows]; _dLogitsHost = new double[rows * Outputs]; _dLogitsUpload = new float[rows * Outputs];
        _capacity = rows;
    }

    void DisposeBuffers() { foreach (var t in new[] { _x, _mask, _dx, _index, _logits, _dLogits }) t?.Dispose(); }

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

/// <summary>pooled → dropout → classifier; mean cross entropy over examples.</summary>
public sealed class SequenceClassificationHead(IBackend backend, EncoderConfig config, int numLabels, int tasks = 1)
    : TaskHead(backend, config, numLabels, tasks, "classifier")
{
    public override TaskKind Kind => TaskKind.SequenceClassification;
    public override bool UsesPooled => true;

    protected override double Loss(TaskBatch batch, float[] logits, double[] dLogits) =>
        MeanCrossEntropy(batch.Labels, batch.Inputs.Batch, Outputs, logits, dLogits, "sequence classification needs one label per row");

    protected override HeadOutput Shape(TaskBatch batch, float[] logits, double? loss) => new(logits, [batch.Inputs.Batch, Outputs], loss);
}

/// <summary>every token → dropout → classifier; mean cross entropy over tokens whose label is not -100.</summary>
public sealed class TokenClassificationHead(IBackend backend, EncoderConfig config, int numLabels, int tasks = 1)
    : TaskHead(backend, config, numLabels, tasks, "classifier")
{
    public override TaskKind Kind => TaskKind.TokenClassification;
    public override bool UsesPooled => false;

    protected override double Loss(TaskBatch batch, float[] logits, double[] dLogits) =>
        MeanCrossEntropy(batch.Labels, batch.Inputs.Rows, Outputs, logits, dLogits, "token classification needs one label per token");

    protected override HeadOutput Shape(TaskBatch batch, float[] logits, double? loss) => new(logits, [batch.Inputs.Batch, batch.Inputs.Seq, Outputs], loss);
}

/// <summary>
/// every token → qa_outputs (2 units: start, end); loss (CE(start) + CE(end)) / 2 over sequence positions.
/// As Hugging Face: positions are clamped to [0, T] and T is ignored.
/// </summary>
public sealed class QuestionAnsweringHead(IBackend backend, EncoderConfig config, int tasks = 1)
    : TaskHead(backend, config, 2, tasks, "qa_outputs")
{
    public override TaskKind Kind => TaskKind.QuestionAnswering;
    public override bool UsesPooled => false;
    protected override bool AppliesDropout => false;

    protected override double Loss(TaskBatch batch, float[] logits, double[] dLogits)
    {
        int B = batch.Inputs.Batch, T = batch.Inputs.Seq;
        var starts = batch.StartPositions ?? throw new ArgumentException("question answering needs start positions");
        var ends = batch.EndPositions ?? throw new ArgumentException("question answering needs end positions");
        if (starts.Length != B || ends.Length != B) throw new ArgumentException($"need {B} start and end positions");
        double total = 0;
        for (int which = 0; which < 2; which++)
        {
            var target = (which == 0 ? starts : ends).Select(p => Math.Clamp(p, 0, T)).ToArray();
            var column = new float[B * T];
            for (int i = 0; i < B * T; i++) column[i] = logits[i * 2 + which];
            int kept = Losses.CountKept(target, ignoreIndex: T);
            var grad = new double[B * T];
            var (sum, _) = Losses.CrossEntropy(column, B, T, target, grad, 0.5 / Math.Max(1, kept), ignoreIndex: T);
            for (int i = 0; i < B * T; i++) dLogits[i * 2 + which] = grad[i];
            total += kept == 0 ? 0 : sum / kept / 2;
        }
        return total;
    }

    protected override HeadOutput Shape(TaskBatch batch, float[] logits, double? loss) => new(logits, [batch.Inputs.Batch, batch.Inputs.Seq, 2], loss);
}

/// <summary>each choice's pooled output → dropout → one score; cross entropy over the choices of an example.</summary>
public sealed class MultipleChoiceHead(IBackend backend, EncoderConfig config, int tasks = 1)
    : TaskHead(backend, config, 1, tasks, "classifier")
{
    public override TaskKind Kind => TaskKind.MultipleChoice;
    public override bool UsesPooled => true;

    protected override double Loss(TaskBatch batch, float[] logits, double[] dLogits)
    {
        int choices = batch.Choices, examples = batch.Inputs.Batch / choices;
        return MeanCrossEntropy(batch.Labels, examples, choices, logits, dLogits, "multiple choice needs one label per example");
    }

    protected override HeadOutput Shape(TaskBatch batch, float[] logits, double? loss) => new(logits, [batch.Inputs.Batch / batch.Choices, batch.Choices], loss);
}
