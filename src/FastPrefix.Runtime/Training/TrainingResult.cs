namespace FastPrefix.Training;

/// <summary>How a call of <see cref="Trainer.Run"/> ended.</summary>
public sealed record TrainingResult
{
    /// <summary>True when training reached its last step or stopped early; false when cancelled (resume to go on).</summary>
    public bool Completed { get; init; }
    public bool Cancelled { get; init; }
    public bool StoppedEarly { get; init; }
    public int EpochsCompleted { get; init; }
    /// <summary>Optimiser steps done (across resumes).</summary>
    public int Steps { get; init; }
    public int TotalSteps { get; init; }
    /// <summary>The epoch (from 1) whose parameters were kept, or null when none was evaluated.</summary>
    public int? BestEpoch { get; init; }
    public double? BestMetric { get; init; }
    public IReadOnlyList<EpochSummary> History { get; init; } = [];
    /// <summary>Steps of this call run by replaying a recorded graph (CUDA, <see cref="TrainingOptions.UseGraphs"/>); 0 on the CPU.</summary>
    public int GraphReplays { get; init; }
}
