using FastPrefix.Training;

namespace FastPrefix.Cli;

/// <summary>
/// Time left from the pace since the first report, so the first step (JIT, buffer planning, first touches of the
/// weights) does not count: timed with it, a 23-second run was once announced as 10 minutes. Unknown until at least
/// two more steps and half a second have passed.
/// </summary>
internal sealed class EtaEstimate
{
    (int Step, TimeSpan Elapsed)? _start;
    TimeSpan? _last;

    public TimeSpan? Update(TrainingProgress p)
    {
        if (p.Phase != TrainingPhase.Training) return _last;
        if (_start is not { } s || p.Step < s.Step) { _start = (p.Step, p.Elapsed); return _last = null; }
        int steps = p.Step - s.Step;
        double seconds = (p.Elapsed - s.Elapsed).TotalSeconds;
        if (steps < 2 || seconds < 0.5) return _last = null;
        return _last = TimeSpan.FromSeconds((p.TotalSteps - p.Step) * seconds / steps);
    }
}
