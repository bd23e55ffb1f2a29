using FastPrefix.Training;

namespace FastPrefix.Tests.Training;

public class BatchPlannerTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Every_example_once_and_only_the_last_batch_short(bool bucketing)
    {
        int n = 1037, bs = 8;
        var plan = BatchPlanner.Plan(n, bs, seed: 3, epoch: 0, bucketing, i => i % 37);
        Assert.Equal(BatchPlanner.BatchesPerEpoch(n, bs), plan.Length);
        Assert.Equal(Enumerable.Range(0, n), plan.SelectMany(b => b).Order());
        Assert.Equal(1, plan.Count(b => b.Length != bs));
        Assert.Equal(n % bs, plan.Single(b => b.Length != bs).Length);
    }

    [Fact]
    public void Deterministic_per_seed_and_epoch()
    {
        var a = BatchPlanner.Plan(100, 10, seed: 42, epoch: 1);
        var b = BatchPlanner.Plan(100, 10, seed: 42, epoch: 1);
        Assert.Equal(a, b);
        Assert.NotEqual(a.SelectMany(x => x), BatchPlanner.Plan(100, 10, 42, 2).SelectMany(x => x));
        Assert.NotEqual(a.SelectMany(x => x), BatchPlanner.Plan(100, 10, 43, 1).SelectMany(x => x));
        Assert.NotEqual(Enumerable.Range(0, 100), a.SelectMany(x => x));
    }

    [Fact]
    public void Length_bucketing_reduces_padding_but_keeps_batch_order_random()
    {
        var rng = new Random(1);
        var lengths = Enumerable.Range(0, 4000).Select(_ => rng.Next(5, 200)).ToArray();
        int Padding(int[][] plan) => plan.Sum(b => b.Length * b.Max(i => lengths[i]) - b.Sum(i => lengths[i]));
        var plain = BatchPlanner.Plan(lengths.Length, 16, 7, 0);
        var bucketed = BatchPlanner.Plan(lengths.Length, 16, 7, 0, lengthBucketing: true, lengthOf: i => lengths[i]);
        Assert.True(Padding(bucketed) * 10 < Padding(plain), $"padding {Padding(bucketed)} vs {Padding(plain)}");
        // batches are not in length order
        var maxima = bucketed.Select(b => b.Max(i => lengths[i])).ToArray();
        Assert.NotEqual(maxima.Order(), maxima);
        Assert.Equal(bucketed, BatchPlanner.Plan(lengths.Length, 16, 7, 0, true, i => lengths[i]));
    }
}
