namespace FastPrefix.Training;

/// <summary>
/// The record of one finished epoch (counted from 1), as logged to metrics.jsonl and kept in checkpoints.
/// </summary>
public sealed record EpochSummary
{
    public int Epoch { get; init; }
    /// <summary>Optimiser steps done at the end of the epoch.</summary>
    public int Step { get; init; }
    /// <summary>Mean training loss over the epoch's steps.</summary>
    public double TrainLoss { get; init; }
    /// <summary>Learning rate of the epoch's last step.</summary>
    public double LearningRate { get; init; }
    /// <summary>Evaluation metrics, or null when the epoch was not evaluated.</summary>
    public IReadOnlyDictionary<string, double>? Eval { get; init; }
    /// <summary>Whether these parameters are the best so far (and so the ones kept).</summary>
    public bool IsBest { get; init; }
    /// <summary>Training time at the end of the epoch, in seconds, including earlier runs of a resumed training.</summary>
    public double ElapsedSeconds { get; init; }
}
