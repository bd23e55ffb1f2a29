using FastPrefix.Training;

namespace FastPrefix.Tests.Training;

public class LrScheduleTests
{
    [Fact]
    public void Linear_with_warmup_matches_hugging_face()
    {
        // get_linear_schedule_with_warmup(num_warmup_steps=2, num_training_steps=10), base 1.0
        var s = LrSchedule.Linear(1.0, totalSteps: 10, warmupSteps: 2);
        double[] expected = [0, 0.5, 1, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125, 0, 0];
        for (int step = 0; step < expected.Length; step++) Assert.Equal(expected[step], s.At(step), 12);
    }

    [Fact]
    public void Linear_without_warmup_starts_at_the_base_rate()
    {
        var s = LrSchedule.Linear(0.02, totalSteps: 4);
        Assert.Equal([0.02, 0.015, 0.01, 0.005, 0], Enumerable.Range(0, 5).Select(i => Math.Round(s.At(i), 12)));
    }

    [Fact]
    public void Constant_with_and_without_warmup()
    {
        Assert.Equal(0.3, LrSchedule.Constant(0.3).At(0));
        Assert.Equal(0.3, LrSchedule.Constant(0.3).At(1000, 7));
        var w = LrSchedule.Constant(1.0, warmupSteps: 4);
        Assert.Equal([0, 0.25, 0.5, 0.75, 1, 1], Enumerable.Range(0, 6).Select(i => w.At(i)));
    }

    [Fact]
    public void Exponential_decays_per_epoch()
    {
        var s = LrSchedule.Exponential(0.08, gamma: 0.5);
        Assert.Equal(0.08, s.At(0, 0));
        Assert.Equal(0.08, s.At(99, 0));
        Assert.Equal(0.04, s.At(100, 1), 12);
        Assert.Equal(0.01, s.At(300, 3), 12);
    }

    [Fact]
    public void Warmup_ratio_rounds_up()
    {
        Assert.Equal(3, LrSchedule.WarmupFromRatio(0.1, 25));
        Assert.Equal(0, LrSchedule.WarmupFromRatio(0, 25));
        Assert.Equal(6, LrSchedule.WarmupFromRatio(0.06, 100));
        Assert.Throws<ArgumentException>(() => LrSchedule.WarmupFromRatio(1.5, 10));
    }

    [Fact]
    public void Invalid_schedules_are_refused()
    {
        Assert.Throws<ArgumentException>(() => LrSchedule.Linear(0.1, 0));
        Assert.Throws<ArgumentException>(() => LrSchedule.Exponential(0.1, 0));
        Assert.Throws<ArgumentException>(() => LrSchedule.Constant(double.NaN));
    }
}
