using FastPrefix.Backends;
using FastPrefix.Model;
using FastPrefix.Training;

namespace FastPrefix.Tests.Training;

/// <summary>
/// Training on the CUDA backend (simulated GPU, and a real one when present): 20 steps without dropout give the CPU's
/// losses, and the same seed twice gives bit-identical parameters (dropout on: masks, norms and the loss are all
/// deterministic on the device).
/// </summary>
public class GpuTrainingTests
{
    static readonly PTuningOptions NoDropout = new() { HiddenDropout = 0, AttentionDropout = 0, PrefixDropout = 0 };

    /// <summary>One step per epoch (the data is one batch), so the history holds every step's loss.</summary>
    static double[] StepLosses(IBackend backend, int steps)
    {
        var data = new ToyTask(8, seed: 3);
        using var model = ToyTask.BuildModel(options: NoDropout, backend: backend);
        var result = new Trainer(model, data, new TrainingOptions { BatchSize = 8, Epochs = steps, LearningRate = 5e-2, Seed = 5 }).Run();
        return [.. result.History.Select(e => e.TrainLoss)];
    }

    [Theory]
    [InlineData("cuda-sim")]
    [InlineData("cuda")]
    public void Twenty_steps_without_dropout_give_the_CPU_losses(string kind)
    {
        using var gpu = GpuBackends.Open(kind, "fp32");
        using var cpu = GpuBackends.Open("cpu");
        var expected = StepLosses(cpu, 20);
        var got = StepLosses(gpu, 20);
        Assert.Equal(20, got.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(got[i] - expected[i]) <= 1e-4 * Math.Max(1, Math.Abs(expected[i])),
                $"step {i + 1}: loss {got[i]:R} on {gpu.Name}, {expected[i]:R} on the CPU");
        Assert.True(expected[^1] < expected[0], "the toy task should be learning");
    }

    public static TheoryData<string, string> Kinds() => GpuBackends.GpuKinds();

    [Theory, MemberData(nameof(Kinds))]
    public void The_same_seed_twice_gives_bit_identical_parameters(string kind, string precision)
    {
        float[] Train(ulong seed)
        {
            using var backend = GpuBackends.Open(kind, precision);
            var data = new ToyTask(24, seed: 4);
            using var model = ToyTask.BuildModel(backend: backend);   // dropout 0.1 in the backbone, the prefix and the head
            new Trainer(model, data, new TrainingOptions { BatchSize = 8, Epochs = 2, Seed = seed }).Run();
            return [.. model.Parameters.SelectMany(p => p.Download())];
        }
        var first = Train(9);
        Assert.Equal(first, Train(9));
        Assert.NotEqual(first, Train(10));
    }
}
