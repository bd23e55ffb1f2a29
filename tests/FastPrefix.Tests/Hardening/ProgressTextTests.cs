using FastPrefix.Cli;
using FastPrefix.Training;

namespace FastPrefix.Tests.Hardening;

public class ProgressTextTests
{
    [Fact]
    public void Learning_rates_print_short_and_zero_as_zero()
    {
        Assert.Equal("0", ProgressRenderer.FormatLr(0));
        Assert.Equal("1e-2", ProgressRenderer.FormatLr(0.01));
        Assert.Equal("9.5e-3", ProgressRenderer.FormatLr(0.0095));
    }

    static TrainingProgress At(int step, double seconds) =>
        new() { Phase = TrainingPhase.Training, Step = step, TotalSteps = 100, Elapsed = TimeSpan.FromSeconds(seconds) };

    [Fact]
    public void Eta_ignores_the_slow_first_step()
    {
        var eta = new EtaEstimate();
        Assert.Null(eta.Update(At(1, 10)));      // the first step took 10 s (warm-up)
        Assert.Null(eta.Update(At(2, 10.1)));    // too few steps to tell
        var e = eta.Update(At(11, 11));          // then 0.1 s per step
        Assert.NotNull(e);
        Assert.InRange(e!.Value.TotalSeconds, 8.5, 9.5);   // 89 steps × 0.1 s, not 89 × 1 s
    }
}
