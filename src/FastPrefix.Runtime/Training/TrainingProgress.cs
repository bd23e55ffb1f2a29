namespace FastPrefix.Training;

/// <summary>What the trainer is doing when it reports progress.</summary>
public enum TrainingPhase { Training, Evaluating }

/// <summary>
/// A progress report: raised at most about ten times a second while training, at the end of each epoch's
/// steps, and once before each evaluation. Epochs are counted from 1 here.
/// </summary>
public sealed record TrainingProgress
{
    public TrainingPhase Phase { get; init; }
    public int Epoch { get; init; }
    public int Epochs { get; init; }
    public int StepInEpoch { get; init; }
    public int StepsInEpoch { get; init; }
    /// <summary>Optimiser steps done so far (across resumes).</summary>
    public int Step { get; init; }
    public int TotalSteps { get; init; }
    /// <summary>Mean training loss of this epoch's steps so far.</summary>
    public double Loss { get; init; }
    /// <summary>Learning rate of the latest step.</summary>
    public double LearningRate { get; init; }
    /// <summary>Gradient norm of the latest step, before clipping.</summary>
    public double GradNorm { get; init; }
    /// <summary>Steps per second in this process (0 until measurable).</summary>
    public double StepsPerSecond { get; init; }
    /// <summary>Estimated time to the last step, or null while unknown.</summary>
    public TimeSpan? Eta { get; init; }
    /// <summary>Training time so far, including earlier runs of a resumed training.</summary>
    public TimeSpan Elapsed { get; init; }
}
