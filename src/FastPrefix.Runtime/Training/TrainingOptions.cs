using System.Globalization;

namespace FastPrefix.Training;

/// <summary>
/// What a training run does. Defaults follow the P-Tuning v2 reference (Hugging Face Trainer): AdamW with
/// weight decay 0, linear decay without warmup, gradient clipping at norm 1.0, seed 42.
/// </summary>
public sealed record TrainingOptions
{
    public int Epochs { get; init; } = 3;
    /// <summary>When &gt; 0, the total number of optimiser steps (overrides <see cref="Epochs"/>; the last epoch may be partial).</summary>
    public int MaxSteps { get; init; }
    public int BatchSize { get; init; } = 16;
    public double LearningRate { get; init; } = 1e-2;
    /// <summary>Share of the total steps used for linear warmup (rounded up), unless <see cref="WarmupSteps"/> is set.</summary>
    public double WarmupRatio { get; init; }
    /// <summary>When &gt; 0, the number of warmup steps (overrides <see cref="WarmupRatio"/>).</summary>
    public int WarmupSteps { get; init; }
    public LrScheduleKind Schedule { get; init; } = LrScheduleKind.Linear;
    /// <summary>Per-epoch factor of <see cref="LrScheduleKind.Exponential"/>.</summary>
    public double Gamma { get; init; } = 0.95;
    public float WeightDecay { get; init; }
    public float Beta1 { get; init; } = 0.9f;
    public float Beta2 { get; init; } = 0.999f;
    public float AdamEps { get; init; } = 1e-8f;
    /// <summary>Global gradient-norm clipping threshold; 0 turns clipping off.</summary>
    public double MaxGradNorm { get; init; } = 1.0;
    public ulong Seed { get; init; } = 42;
    /// <summary>Evaluate after every epoch (and keep the best parameters); otherwise only after the last one.</summary>
    public bool EvalEveryEpoch { get; init; } = true;
    /// <summary>Stop after this many evaluations without improvement of the main metric; 0 = never.</summary>
    public int EarlyStoppingPatience { get; init; }
    /// <summary>Where metrics.jsonl and curves.png go (and the checkpoint unless <see cref="CheckpointDir"/> is set); null: nowhere.</summary>
    public string? OutputDir { get; init; }
    /// <summary>Where checkpoint.safetensors goes; null: <see cref="OutputDir"/>; both null: no checkpoints.</summary>
    public string? CheckpointDir { get; init; }
    /// <summary>Also checkpoint every this many steps (0: only at the end of each epoch and on cancellation).</summary>
    public int CheckpointEverySteps { get; init; }
    /// <summary>Batch examples of similar length together (within chunks of 50 batches) to reduce padding.</summary>
    public bool LengthBucketing { get; init; }
    /// <summary>
    /// Replay each training step as one recorded graph per pass shape where the backend can record (CUDA); the results
    /// are bit-identical either way, so a run may be resumed with the other setting. No effect on the CPU.
    /// </summary>
    public bool UseGraphs { get; init; } = true;

    public AdamWOptions AdamW => new() { Beta1 = Beta1, Beta2 = Beta2, Eps = AdamEps, WeightDecay = WeightDecay };

    /// <summary>The folder of checkpoint.safetensors, or null when checkpoints are off.</summary>
    public string? EffectiveCheckpointDir => CheckpointDir ?? OutputDir;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (MaxSteps < 0) throw new ArgumentException($"MaxSteps must be >= 0, got {MaxSteps}");
        if (MaxSteps == 0 && Epochs <= 0) throw new ArgumentException($"Epochs must be positive (or MaxSteps set), got {Epochs}");
        if (BatchSize <= 0) throw new ArgumentException($"BatchSize must be positive, got {BatchSize}");
        if (!double.IsFinite(LearningRate) || LearningRate < 0) throw new ArgumentException($"LearningRate must be finite and >= 0, got {LearningRate}");
        if (!(WarmupRatio >= 0 && WarmupRatio <= 1)) throw new ArgumentException($"WarmupRatio must be in [0, 1], got {WarmupRatio}");
        if (WarmupSteps < 0) throw new ArgumentException($"WarmupSteps must be >= 0, got {WarmupSteps}");
        if (Schedule == LrScheduleKind.Exponential && !(Gamma > 0 && double.IsFinite(Gamma))) throw new ArgumentException($"Gamma must be positive, got {Gamma}");
        if (!Enum.IsDefined(Schedule)) throw new ArgumentException($"Schedule {(int)Schedule} is not a known schedule");
        if (!double.IsFinite(MaxGradNorm) || MaxGradNorm < 0) throw new ArgumentException($"MaxGradNorm must be finite and >= 0 (0 = off), got {MaxGradNorm}");
        if (EarlyStoppingPatience < 0) throw new ArgumentException($"EarlyStoppingPatience must be >= 0 (0 = off), got {EarlyStoppingPatience}");
        if (CheckpointEverySteps < 0) throw new ArgumentException($"CheckpointEverySteps must be >= 0 (0 = only at epoch ends), got {CheckpointEverySteps}");
        try { AdamW.Validate(); }
        catch (ArgumentException e) { throw new ArgumentException(e.Message.Replace("AdamW ", "option "), e); }
    }

    /// <summary>
    /// The options that decide the trajectory of the parameters, as name → invariant text. A checkpoint records
    /// them; resuming with different values is refused (the result would match neither run).
    /// </summary>
    public SortedDictionary<string, string> TrajectoryFields()
    {
        static string D(double x) => x.ToString("R", CultureInfo.InvariantCulture);
        static string F(float x) => x.ToString("R", CultureInfo.InvariantCulture);
        return new(StringComparer.Ordinal)
        {
            ["epochs"] = MaxSteps > 0 ? "-" : Epochs.ToString(CultureInfo.InvariantCulture),
            ["max_steps"] = MaxSteps.ToString(CultureInfo.InvariantCulture),
            ["batch_size"] = BatchSize.ToString(CultureInfo.InvariantCulture),
            ["learning_rate"] = D(LearningRate),
            ["warmup"] = WarmupSteps > 0 ? $"{WarmupSteps} steps" : $"ratio {D(WarmupRatio)}",
            ["schedule"] = Schedule == LrScheduleKind.Exponential ? $"exponential gamma {D(Gamma)}" : Schedule.ToString().ToLowerInvariant(),
            ["weight_decay"] = F(WeightDecay),
            ["adam"] = $"{F(Beta1)} {F(Beta2)} {F(AdamEps)}",
            ["max_grad_norm"] = D(MaxGradNorm),
            ["seed"] = Seed.ToString(CultureInfo.InvariantCulture),
            ["eval_every_epoch"] = EvalEveryEpoch ? "true" : "false",
            ["early_stopping_patience"] = EarlyStoppingPatience.ToString(CultureInfo.InvariantCulture),
            ["length_bucketing"] = LengthBucketing ? "true" : "false",
        };
    }
}
