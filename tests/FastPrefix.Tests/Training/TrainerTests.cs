using FastPrefix.Model;
using FastPrefix.Model.Heads;
using FastPrefix.Training;

namespace FastPrefix.Tests.Training;

public class TrainerTests
{
    static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>24 examples, batch 8: three steps per epoch; dropout on (the model default), so seeds matter.</summary>
    static TrainingOptions Small(string? dir, int epochs = 3) => new()
    {
        Epochs = epochs, BatchSize = 8, LearningRate = 0.05, WarmupRatio = 0.2, WeightDecay = 0.01f, Seed = 9, OutputDir = dir,
        LengthBucketing = true,
    };

    static ToyTask SmallData() => new(24, seed: 2);

    static float[] Values(PTuningModel model) => [.. model.Parameters.SelectMany(p => p.Download())];

    static void InTempDir(Action<string> test)
    {
        var dir = TestPaths.NewTempDir();
        try { test(dir); }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void Learns_the_toy_task_and_writes_log_curves_and_checkpoint()
    {
        InTempDir(dir =>
        {
            var data = new ToyTask(128, seed: 1);
            using var model = ToyTask.BuildModel(hidden: 32, new PTuningOptions { HiddenDropout = 0, AttentionDropout = 0, PrefixDropout = 0 }, prefixLen: 8);
            double before = data.Evaluate(model)["loss"];
            var trainer = new Trainer(model, data, new TrainingOptions
            {
                Epochs = 7, BatchSize = 16, LearningRate = 0.2, WarmupRatio = 0.1, Seed = 1, OutputDir = dir,
            }, data);
            var warnings = new List<string>();
            trainer.Warning += warnings.Add;
            var result = trainer.Run();

            Assert.True(result.Completed);
            Assert.Equal(7 * 8, result.Steps);
            var after = data.Evaluate(model);
            Assert.True(after["accuracy"] >= 0.9, $"train accuracy {after["accuracy"]}; history: {MetricsLog.Format(result.History)}");
            Assert.Equal(result.BestMetric, after["accuracy"]); // the best parameters are the ones in the model
            Assert.True(after["loss"] < before / 2, $"loss {before} -> {after["loss"]}");
            Assert.True(result.History[^1].TrainLoss < result.History[0].TrainLoss / 2);
            Assert.Empty(warnings);

            var lines = File.ReadAllLines(Path.Combine(dir, MetricsLog.FileName));
            Assert.Equal(7, lines.Length);
            var logged = lines.Select(MetricsLog.ParseLine).ToArray();
            Assert.Equal(Enumerable.Range(1, 7), logged.Select(e => e.Epoch));
            Assert.All(logged, e => Assert.True(e.Eval!.ContainsKey("accuracy")));
            Assert.Contains("\"train_loss\":", lines[0]);

            var png = File.ReadAllBytes(Path.Combine(dir, CurvesPlot.FileName));
            Assert.True(png.Length > 1000);
            Assert.Equal(PngSignature, png[..8]);

            Assert.True(File.Exists(Path.Combine(dir, TrainingCheckpoint.FileName)));
            Assert.Equal(3, Directory.GetFiles(dir).Length); // no temporary files left
        });
    }

    [Fact]
    public void Same_seed_gives_bitwise_identical_parameters()
    {
        float[] Train(ulong seed)
        {
            var data = SmallData();
            using var model = ToyTask.BuildModel();
            new Trainer(model, data, Small(null) with { Seed = seed }).Run();
            return Values(model);
        }
        var a = Train(9);
        Assert.Equal(a, Train(9));
        Assert.NotEqual(a, Train(10));
    }

    // ---- resume ----

    static readonly Lazy<(float[] Values, IReadOnlyList<EpochSummary> History)> Uninterrupted = new(() =>
    {
        var dir = TestPaths.NewTempDir();
        try
        {
            var data = SmallData();
            using var model = ToyTask.BuildModel();
            var result = new Trainer(model, data, Small(dir), data).Run();
            return (Values(model), result.History);
        }
        finally { Directory.Delete(dir, true); }
    });

    static void AssertSameAsUninterrupted(PTuningModel model, TrainingResult result, string dir)
    {
        Assert.True(result.Completed);
        Assert.Equal(Uninterrupted.Value.Values, Values(model));
        var expected = Uninterrupted.Value.History;
        Assert.Equal(expected.Count, result.History.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].TrainLoss, result.History[i].TrainLoss);
            Assert.Equal(expected[i].LearningRate, result.History[i].LearningRate);
            Assert.Equal(expected[i].Eval, result.History[i].Eval);
            Assert.Equal(expected[i].IsBest, result.History[i].IsBest);
        }
        Assert.Equal(expected.Count, File.ReadAllLines(Path.Combine(dir, MetricsLog.FileName)).Length);
    }

    [Fact]
    public void Resume_after_a_cancelled_epoch_matches_an_uninterrupted_run()
    {
        InTempDir(dir =>
        {
            var data = SmallData();
            using (var model = ToyTask.BuildModel())
            {
                using var cts = new CancellationTokenSource();
                var trainer = new Trainer(model, data, Small(dir), data);
                trainer.EpochCompleted += e => { if (e.Epoch == 1) cts.Cancel(); };
                trainer.Warning += w => Assert.Fail(w);
                var first = trainer.Run(cancellationToken: cts.Token);
                Assert.True(first.Cancelled);
                Assert.False(first.Completed);
                Assert.Equal(1, first.EpochsCompleted);
                Assert.Equal(3, first.Steps);
                Assert.Single(File.ReadAllLines(Path.Combine(dir, MetricsLog.FileName)));
            }
            using var fresh = ToyTask.BuildModel();
            var resumed = new Trainer(fresh, data, Small(dir), data);
            Assert.True(resumed.HasCheckpoint);
            AssertSameAsUninterrupted(fresh, resumed.Run(resume: true), dir);
        });
    }

    /// <summary>Training data that cancels a token when the trainer asks for its n-th batch (a crash in mid-epoch).</summary>
    sealed class CancelAtBatch(ITrainingData inner, int n, CancellationTokenSource cts) : ITrainingData
    {
        int _calls;
        public int Count => inner.Count;
        public int LengthOf(int index) => inner.LengthOf(index);
        public TaskBatch MakeBatch(IReadOnlyList<int> exampleIndices)
        {
            if (++_calls == n) cts.Cancel();
            return inner.MakeBatch(exampleIndices);
        }
    }

    [Fact]
    public void Resume_from_the_middle_of_an_epoch_matches_an_uninterrupted_run()
    {
        InTempDir(dir =>
        {
            var data = SmallData();
            using (var model = ToyTask.BuildModel())
            {
                using var cts = new CancellationTokenSource();
                var result = new Trainer(model, new CancelAtBatch(data, 5, cts), Small(dir), data).Run(cancellationToken: cts.Token);
                Assert.True(result.Cancelled);
                Assert.Equal(5, result.Steps); // the 5th step finished, then it stopped
                var checkpoint = TrainingCheckpoint.Load(Path.Combine(dir, TrainingCheckpoint.FileName));
                Assert.Equal(5, checkpoint.GlobalStep);
                Assert.Equal(1, checkpoint.EpochsCompleted);
                Assert.Equal(5, checkpoint.Optimizer.Step);
                Assert.False(checkpoint.Finished);
                Assert.Equal(Values(model), checkpoint.Parameters.SelectMany(p => p.Data));
            }
            using var fresh = ToyTask.BuildModel();
            AssertSameAsUninterrupted(fresh, new Trainer(fresh, data, Small(dir), data).Run(resume: true), dir);
        });
    }

    /// <summary>Training data whose n-th batch throws (the process dies in mid-epoch).</summary>
    sealed class CrashAtBatch(ITrainingData inner, int n) : ITrainingData
    {
        int _calls;
        public int Count => inner.Count;
        public int LengthOf(int index) => inner.LengthOf(index);
        public TaskBatch MakeBatch(IReadOnlyList<int> exampleIndices) =>
            ++_calls == n ? throw new IOException("simulated crash") : inner.MakeBatch(exampleIndices);
    }

    [Fact]
    public void Resume_after_a_crash_from_a_step_checkpoint_matches_an_uninterrupted_run()
    {
        InTempDir(dir =>
        {
            var data = SmallData();
            var options = Small(dir) with { CheckpointEverySteps = 2 };
            using (var model = ToyTask.BuildModel())
                Assert.Throws<IOException>(() => new Trainer(model, new CrashAtBatch(data, 6), options, data).Run());
            Assert.Equal(4, TrainingCheckpoint.Load(Path.Combine(dir, TrainingCheckpoint.FileName)).GlobalStep);
            using var fresh = ToyTask.BuildModel();
            AssertSameAsUninterrupted(fresh, new Trainer(fresh, data, options, data).Run(resume: true), dir);
        });
    }

    [Fact]
    public void Resume_refuses_a_checkpoint_of_other_settings()
    {
        InTempDir(dir =>
        {
            var data = SmallData();
            using var model = ToyTask.BuildModel();
            new Trainer(model, data, Small(dir, epochs: 1)).Run();
            var e = Assert.Throws<TrainingException>(() => new Trainer(model, data, Small(dir, epochs: 1) with { BatchSize = 4 }).Run(resume: true));
            Assert.Contains("batch_size: checkpoint 8, now 4", e.Message);
            Assert.Contains(TrainingCheckpoint.FileName, e.Message);
            var missing = Assert.Throws<TrainingException>(() => new Trainer(model, data, Small(Path.Combine(dir, "none"))).Run(resume: true));
            Assert.Contains("no training checkpoint", missing.Message);
        });
    }

    // ---- best parameters and early stopping ----

    [Theory]
    [InlineData(true, new[] { 0.1, 0.9, 0.3 }, 2, "TTF")]
    [InlineData(false, new[] { 0.5, 0.2, 0.3 }, 2, "TTF")]
    [InlineData(true, new[] { 0.2, 0.2, 0.7 }, 3, "TFT")]
    public void Best_parameters_are_restored(bool higherIsBetter, double[] scores, int bestEpoch, string bestFlags)
    {
        var data = SmallData();
        using var model = ToyTask.BuildModel();
        var evaluator = new ScriptedEvaluator(scores) { HigherIsBetter = higherIsBetter };
        var result = new Trainer(model, data, Small(null), evaluator).Run();
        Assert.Equal(bestEpoch, result.BestEpoch);
        Assert.Equal(scores[bestEpoch - 1], result.BestMetric);
        Assert.Equal(evaluator.Seen[bestEpoch - 1], Values(model));
        Assert.NotEqual(evaluator.Seen[2], evaluator.Seen[1]);
        Assert.Equal(bestFlags, string.Concat(result.History.Select(h => h.IsBest ? 'T' : 'F')));
    }

    [Fact]
    public void Early_stopping_stops_after_patience_evaluations_without_improvement()
    {
        InTempDir(dir =>
        {
            var data = SmallData();
            using var model = ToyTask.BuildModel();
            var evaluator = new ScriptedEvaluator(0.5, 0.7, 0.6, 0.7, 0.9, 0.95, 0.99, 1.0);
            var result = new Trainer(model, data, Small(dir, epochs: 8) with { EarlyStoppingPatience = 2 }, evaluator).Run();
            Assert.True(result.Completed);
            Assert.True(result.StoppedEarly);
            Assert.Equal(4, result.EpochsCompleted);
            Assert.Equal(12, result.Steps);
            Assert.Equal(2, result.BestEpoch);
            Assert.Equal(evaluator.Seen[1], Values(model));
            Assert.Equal(4, File.ReadAllLines(Path.Combine(dir, MetricsLog.FileName)).Length);

            // resuming a finished run trains no further and restores the best parameters
            using var fresh = ToyTask.BuildModel();
            var again = new Trainer(fresh, data, Small(dir, epochs: 8) with { EarlyStoppingPatience = 2 }, new ScriptedEvaluator()).Run(resume: true);
            Assert.True(again.StoppedEarly);
            Assert.Equal(12, again.Steps);
            Assert.Equal(evaluator.Seen[1], Values(fresh));
        });
    }

    // ---- steps, progress, errors ----

    [Fact]
    public void Max_steps_overrides_epochs_and_progress_is_reported()
    {
        var data = SmallData();
        using var model = ToyTask.BuildModel();
        var trainer = new Trainer(model, data, Small(null, epochs: 10) with { MaxSteps = 5 }, data);
        Assert.Equal(5, trainer.TotalSteps);
        Assert.Equal(2, trainer.Epochs);
        var reports = new List<TrainingProgress>();
        trainer.Progress += reports.Add;
        var result = trainer.Run();
        Assert.Equal(5, result.Steps);
        Assert.Equal([3, 5], result.History.Select(h => h.Step));
        // the schedule runs over the configured 5 steps (warmup ceil(0.2·5) = 1): the last step's rate is lr·(5-4)/(5-1)
        Assert.Equal(0.05 / 4, result.History[^1].LearningRate, 12);
        Assert.Contains(reports, r => r.Phase == TrainingPhase.Training && r.Epoch == 1 && r.StepInEpoch == 3 && r.StepsInEpoch == 3);
        Assert.Contains(reports, r => r.Phase == TrainingPhase.Training && r.Epoch == 2 && r.StepInEpoch == 2 && r.StepsInEpoch == 2 && r.Step == 5);
        Assert.Equal(2, reports.Count(r => r.Phase == TrainingPhase.Evaluating));
        Assert.All(reports, r => { Assert.Equal(5, r.TotalSteps); Assert.Equal(2, r.Epochs); Assert.True(r.Loss > 0); });
        Assert.Equal(reports.Select(r => r.Step).Order(), reports.Select(r => r.Step));
    }

    [Fact]
    public void A_non_finite_loss_stops_training_with_a_clear_error()
    {
        var data = SmallData();
        using var model = ToyTask.BuildModel();
        model.Head.Weight.Upload(Enumerable.Repeat(float.NaN, (int)model.Head.Weight.Length).ToArray());
        var e = Assert.Throws<TrainingException>(() => new Trainer(model, data, Small(null)).Run());
        Assert.Contains("loss is NaN at epoch 1, step 1", e.Message);
    }

    [Fact]
    public void Invalid_options_name_the_option()
    {
        var data = SmallData();
        using var model = ToyTask.BuildModel();
        Assert.Contains("BatchSize", Assert.Throws<ArgumentException>(() => new Trainer(model, data, new TrainingOptions { BatchSize = 0 })).Message);
        Assert.Contains("EarlyStoppingPatience", Assert.Throws<ArgumentException>(() => new Trainer(model, data, new TrainingOptions { EarlyStoppingPatience = 2 })).Message);
        Assert.Contains("WarmupRatio", Assert.Throws<ArgumentException>(() => new Trainer(model, data, new TrainingOptions { WarmupRatio = 2 })).Message);
    }
}
