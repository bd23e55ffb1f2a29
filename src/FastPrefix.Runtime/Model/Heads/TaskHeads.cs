using FastPrefix.Backends;

namespace FastPrefix.Model.Heads;

/// <summary>pooled → dropout → classifier; mean cross entropy over examples.</summary>
public sealed class SequenceClassificationHead(IBackend backend, EncoderConfig config, int numLabels, int tasks = 1)
    : TaskHead(backend, config, numLabels, tasks, "classifier")
{
    public override TaskKind Kind => TaskKind.SequenceClassification;
    public override bool UsesPooled => true;

    protected override void StageTargets(TaskBatch batch, EncoderPlan plan, Span<int> labels)
    {
        var y = batch.Labels ?? throw new ArgumentException("sequence classification needs one label per row");
        if (y.Length != batch.Inputs.Batch) throw new ArgumentException($"{y.Length} labels for {batch.Inputs.Batch} rows");
        for (int b = 0; b < plan.Batch; b++) labels[b] = b < y.Length ? CheckLabel(y[b], Outputs, "row", b) : Losses.IgnoreIndex;
    }

    public override void Loss(EncoderPlan plan, Tensor results) =>
        Backend.CrossEntropy(new CrossEntropyArgs(Logits, 0, Outputs, 1, plan.Batch, Outputs, Labels, 0, null, 0, 1f, DLogits, results, 0, false));

    protected override HeadOutput Shape(TaskBatch batch, float[] logits, double? loss) => new(logits, [batch.Inputs.Batch, Outputs], loss);
}

/// <summary>every token → dropout → classifier; mean cross entropy over tokens whose label is not -100.</summary>
public sealed class TokenClassificationHead(IBackend backend, EncoderConfig config, int numLabels, int tasks = 1)
    : TaskHead(backend, config, numLabels, tasks, "classifier")
{
    public override TaskKind Kind => TaskKind.TokenClassification;
    public override bool UsesPooled => false;

    protected override void StageTargets(TaskBatch batch, EncoderPlan plan, Span<int> labels)
    {
        var y = batch.Labels ?? throw new ArgumentException("token classification needs one label per token");
        int B = batch.Inputs.Batch, T = batch.Inputs.Seq;
        if (y.Length != B * T) throw new ArgumentException($"{y.Length} labels for {B * T} tokens");
        for (int b = 0; b < plan.Batch; b++)
            for (int t = 0; t < plan.Seq; t++)
                labels[b * plan.Seq + t] = b < B && t < T ? CheckLabel(y[b * T + t], Outputs, "token", b * T + t) : Losses.IgnoreIndex;
    }

    public override void Loss(EncoderPlan plan, Tensor results) =>
        Backend.CrossEntropy(new CrossEntropyArgs(Logits, 0, Outputs, 1, plan.Rows, Outputs, Labels, 0, null, 0, 1f, DLogits, results, 0, false));

    protected override HeadOutput Shape(TaskBatch batch, float[] logits, double? loss) => new(logits, [batch.Inputs.Batch, batch.Inputs.Seq, Outputs], loss);
}

/// <summary>
/// every token → qa_outputs (2 units: start, end); loss (CE(start) + CE(end)) / 2 over the batch's sequence positions.
/// As Hugging Face: positions are clamped to [0, T] and T is ignored. Positions added by length bucketing take no
/// part in the softmax (the staged class limit is the batch's own length).
/// </summary>
public sealed class QuestionAnsweringHead(IBackend backend, EncoderConfig config, int tasks = 1)
    : TaskHead(backend, config, 2, tasks, "qa_outputs")
{
    public override TaskKind Kind => TaskKind.QuestionAnswering;
    public override bool UsesPooled => false;
    protected override bool AppliesDropout => false;

    /// <summary>Start positions at [0, B), end positions at [B, 2B) of the labels region.</summary>
    protected override int LabelCapacity(int maxBatch, int maxSeq) => 2 * maxBatch;

    protected override void StageTargets(TaskBatch batch, EncoderPlan plan, Span<int> labels)
    {
        int B = batch.Inputs.Batch, T = batch.Inputs.Seq;
        var starts = batch.StartPositions ?? throw new ArgumentException("question answering needs start positions");
        var ends = batch.EndPositions ?? throw new ArgumentException("question answering needs end positions");
        if (starts.Length != B || ends.Length != B) throw new ArgumentException($"need {B} start and end positions");
        for (int b = 0; b < plan.Batch; b++)
        {
            labels[b] = b < B ? Target(starts[b], T) : Losses.IgnoreIndex;
            labels[plan.Batch + b] = b < B ? Target(ends[b], T) : Losses.IgnoreIndex;
        }
        static int Target(int position, int T) { int p = Math.Clamp(position, 0, T); return p == T ? Losses.IgnoreIndex : p; }
    }

    public override void Loss(EncoderPlan plan, Tensor results)
    {
        int B = plan.Batch, T = plan.Seq;
        for (int which = 0; which < 2; which++)
            Backend.CrossEntropy(new CrossEntropyArgs(Logits, which, 2 * T, 2, B, T, Labels, which * B, ClassLimit, 0, 0.5f, DLogits, results, 0, Accumulate: which == 1));
    }

    protected override HeadOutput Shape(TaskBatch batch, float[] logits, double? loss) => new(logits, [batch.Inputs.Batch, batch.Inputs.Seq, 2], loss);
}

/// <summary>each choice's pooled output → dropout → one score; cross entropy over the choices of an example.</summary>
public sealed class MultipleChoiceHead(IBackend backend, EncoderConfig config, int tasks = 1)
    : TaskHead(backend, config, 1, tasks, "classifier")
{
    public override TaskKind Kind => TaskKind.MultipleChoice;
    public override bool UsesPooled => true;
    public override int RowsPerExample(TaskBatch batch) => batch.Choices;

    protected override void StageTargets(TaskBatch batch, EncoderPlan plan, Span<int> labels)
    {
        int choices = batch.Choices, examples = batch.Inputs.Batch / choices;
        var y = batch.Labels ?? throw new ArgumentException("multiple choice needs one label per example");
        if (y.Length != examples) throw new ArgumentException($"{y.Length} labels for {examples} examples");
        for (int e = 0; e < plan.Batch / choices; e++) labels[e] = e < examples ? CheckLabel(y[e], choices, "example", e) : Losses.IgnoreIndex;
        _choices = choices;
    }

    int _choices = 1;

    public override void Loss(EncoderPlan plan, Tensor results) =>
        Backend.CrossEntropy(new CrossEntropyArgs(Logits, 0, _choices, 1, plan.Batch / _choices, _choices, Labels, 0, null, 0, 1f, DLogits, results, 0, false));

    protected override HeadOutput Shape(TaskBatch batch, float[] logits, double? loss) => new(logits, [batch.Inputs.Batch / batch.Choices, batch.Choices], loss);
}
