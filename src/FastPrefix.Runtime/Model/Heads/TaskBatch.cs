namespace FastPrefix.Model.Heads;

/// <summary>The task a head solves.</summary>
public enum TaskKind { SequenceClassification, TokenClassification, QuestionAnswering, MultipleChoice }

/// <summary>
/// Inputs and (optional) targets of one batch. For multiple choice the encoder rows are
/// examples × choices, in example-major order, and <see cref="Labels"/> has one entry per example.
/// </summary>
public sealed class TaskBatch
{
    public required EncoderBatch Inputs { get; init; }
    /// <summary>Sequence/choice classification: one per example; token classification: one per token (-100 ignored).</summary>
    public int[]? Labels { get; init; }
    /// <summary>Extractive QA: answer start and end token per row.</summary>
    public int[]? StartPositions { get; init; }
    public int[]? EndPositions { get; init; }
    /// <summary>Choices per example (multiple choice), else 1.</summary>
    public int Choices { get; init; } = 1;

    public bool HasTargets => Labels != null || StartPositions != null;
}

/// <summary>Logits (host) of one forward and, when targets were given, the mean loss.</summary>
public sealed record HeadOutput(float[] Logits, int[] Shape, double? Loss);
