namespace FastPrefix.Training;

/// <summary>How the learning rate changes over training.</summary>
public enum LrScheduleKind
{
    /// <summary>Linear warmup from 0, then linear decay to 0 at the last step (Hugging Face get_linear_schedule_with_warmup).</summary>
    Linear,
    /// <summary>Linear warmup from 0, then the base rate (get_constant_schedule_with_warmup; no warmup: constant).</summary>
    Constant,
    /// <summary>lr · gamma^epoch (epoch counted from 0; torch ExponentialLR stepped once per epoch), times the warmup factor.</summary>
    Exponential,
}

/// <summary>
/// A learning-rate schedule as a pure function of the optimiser step (0 for the first update) and the epoch
/// (0 for the first). The total is the configured number of steps, never the number that happened to run,
/// so a resumed run sees the same rates as an uninterrupted one.
/// </summary>
public sealed record LrSchedule
{
    public LrSchedule(LrScheduleKind kind, double baseLr, int totalSteps = 0, int warmupSteps = 0, double gamma = 1.0)
    {
        if (!double.IsFinite(baseLr) || baseLr < 0) throw new ArgumentException($"learning rate must be finite and >= 0, got {baseLr}");
        if (warmupSteps < 0) throw new ArgumentException($"warmup steps must be >= 0, got {warmupSteps}");
        if (kind == LrScheduleKind.Linear && totalSteps <= 0) throw new ArgumentException($"a linear schedule needs the total number of steps, got {totalSteps}");
        if (kind == LrScheduleKind.Exponential && !(gamma > 0 && double.IsFinite(gamma))) throw new ArgumentException($"exponential decay gamma must be positive, got {gamma}");
        Kind = kind; BaseLr = baseLr; TotalSteps = totalSteps; WarmupSteps = warmupSteps; Gamma = gamma;
    }

    public LrScheduleKind Kind { get; }
    public double BaseLr { get; }
    public int TotalSteps { get; }
    public int WarmupSteps { get; }
    public double Gamma { get; }

    public static LrSchedule Linear(double baseLr, int totalSteps, int warmupSteps = 0) => new(LrScheduleKind.Linear, baseLr, totalSteps, warmupSteps);
    public static LrSchedule Constant(double baseLr, int warmupSteps = 0) => new(LrScheduleKind.Constant, baseLr, 0, warmupSteps);
    public static LrSchedule Exponential(double baseLr, double gamma, int warmupSteps = 0) => new(LrScheduleKind.Exponential, baseLr, 0, warmupSteps, gamma);

    /// <summary>Warmup steps for a ratio of the total, rounded up as Hugging Face's TrainingArguments.get_warmup_steps.</summary>
    public static int WarmupFromRatio(double ratio, int totalSteps)
    {
        if (!(ratio >= 0 && ratio <= 1)) throw new ArgumentException($"warmup ratio must be in [0, 1], got {ratio}");
        return (int)Math.Ceiling(totalSteps * ratio);
    }

    /// <summary>The learning rate of update number <paramref name="step"/> (0-based) in epoch <paramref name="epoch"/> (0-based).</summary>
    public double At(int step, int epoch = 0)
    {
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), step, "step must be >= 0");
        if (epoch < 0) throw new ArgumentOutOfRangeException(nameof(epoch), epoch, "epoch must be >= 0");
        if (step < WarmupSteps) return BaseLr * step / Math.Max(1, WarmupSteps);
        return Kind switch
        {
            LrScheduleKind.Linear => BaseLr * Math.Max(0.0, (double)(TotalSteps - step) / Math.Max(1, TotalSteps - WarmupSteps)),
            LrScheduleKind.Constant => BaseLr,
            LrScheduleKind.Exponential => BaseLr * Math.Pow(Gamma, epoch),
            _ => throw new InvalidOperationException($"unknown schedule {Kind}"),
        };
    }
}
