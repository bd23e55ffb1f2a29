using FastPrefix.Backends;
using FastPrefix.Model;
using FastPrefix.Model.Heads;
using FastPrefix.Training;

namespace FastPrefix.Tests.Training;

/// <summary>
/// Training steps and inference passes replayed as recorded graphs (<see cref="TrainingStep"/>,
/// <see cref="PTuningModel.UseGraphs"/>; the CUDA backend on the simulated GPU, and a real one when present) give
/// bit-identical parameters, losses and logits to issuing every op, with dropout on, across batches of two sequence
/// buckets, a re-plan and freed device memory — and the replays really happen.
/// </summary>
public class GraphStepTests
{
    public static TheoryData<string, string> Kinds() => GpuBackends.GpuKinds();

    /// <summary>Rows of 3..40 tokens and 64 positions: batches fall in the 32- and the 64-token bucket.</summary>
    static ToyTask Data() => new(24, seed: 6, maxLen: 40);

    static PTuningModel Model(IBackend backend) => ToyTask.BuildModel(backend: backend, maxPositions: 64);

    /// <summary>
    /// The step sequence, as (examples, long?): short batches (every row at most 32 tokens) and long ones (a row over
    /// 32), interleaved, different examples each time: S L S L S S L S L.
    /// </summary>
    static readonly (int[] Rows, bool Long)[] Batches = MakeBatches();

    static (int[], bool)[] MakeBatches()
    {
        var data = Data();
        var byLength = Enumerable.Range(0, data.Count).OrderBy(data.LengthOf).ToArray();
        int[] shortA = byLength[..6], shortB = byLength[6..12], longA = byLength[18..], longB = [.. byLength[..5], byLength[^1]];
        return [(shortA, false), (longA, true), (shortB, false), (longB, true), (shortA, false), (shortB, false), (longA, true), (shortA, false), (longB, true)];
    }

    sealed record Run(float[] Parameters, float[] Losses, int Captures, int Replays);

    static Run Steps(string kind, string precision, bool graphs, Action<IBackend, int>? beforeStep = null)
    {
        using var backend = GpuBackends.Open(kind, precision);
        var data = Data();
        using var model = Model(backend);
        model.Plan(6, 41, training: true);
        using var adam = new AdamW(model.Parameters);
        using var record = backend.Zeros(Batches.Length * TrainingStep.RecordWidth);
        using var step = new TrainingStep(model, adam, maxGradNorm: 1.0, record, useGraphs: graphs);
        Assert.Equal(graphs, step.UsesGraphs);
        for (int i = 0; i < Batches.Length; i++)
        {
            beforeStep?.Invoke(backend, i);
            step.Run(data.MakeBatch(Batches[i].Rows), seed: (ulong)(100 + i), lr: 3e-2f, slot: i);
        }
        var losses = new float[Batches.Length * TrainingStep.RecordWidth];
        backend.Download(record, losses);
        return new Run([.. model.Parameters.SelectMany(p => p.Download())], losses, step.GraphCaptures, step.GraphReplays);
    }

    [Fact]
    public void The_test_batches_fall_in_two_sequence_buckets()
    {
        var data = Data();
        foreach (var (rows, isLong) in Batches)
            Assert.Equal(isLong, data.MakeBatch(rows).Inputs.Seq > 32);
    }

    [Theory, MemberData(nameof(Kinds))]
    public void Replayed_steps_are_bit_identical_to_issued_ones(string kind, string precision)
    {
        var issued = Steps(kind, precision, graphs: false);
        var replayed = Steps(kind, precision, graphs: true);
        Assert.Equal(issued.Losses, replayed.Losses);
        Assert.Equal(issued.Parameters, replayed.Parameters);
        Assert.All(replayed.Losses.Where((_, i) => i % TrainingStep.RecordWidth == 0), l => Assert.True(float.IsFinite(l) && l > 0, $"loss {l}"));
        Assert.Equal((0, 0), (issued.Captures, issued.Replays));
        // Two shapes: each first step is issued (kernels load), the second recorded, every later one replayed.
        Assert.Equal(2, replayed.Captures);
        Assert.Equal(Batches.Length - 2, replayed.Replays);
    }

    [Theory, MemberData(nameof(Kinds))]
    public void Freed_device_memory_makes_the_step_record_again(string kind, string precision)
    {
        // Before step 6, a tensor is allocated and freed: the recordings may point into freed memory, so both shapes
        // are recorded again at their next step — and the parameters still match issuing every op.
        void FreeSomething(IBackend backend, int step) { if (step == 6) backend.Zeros(1000).Dispose(); }
        var issued = Steps(kind, precision, graphs: false);
        var replayed = Steps(kind, precision, graphs: true, FreeSomething);
        Assert.Equal(issued.Parameters, replayed.Parameters);
        Assert.Equal(4, replayed.Captures);
    }

    [Theory, MemberData(nameof(Kinds))]
    public void A_whole_training_run_with_graphs_matches_one_without(string kind, string precision)
    {
        // The trainer evaluates after every epoch; the evaluator's larger batches re-plan the model in between.
        (float[] Parameters, double[] Losses, int Replays) Train(bool graphs)
        {
            using var backend = GpuBackends.Open(kind, precision);
            var data = Data();
            using var model = Model(backend);
            var result = new Trainer(model, data, new TrainingOptions { BatchSize = 8, Epochs = 3, Seed = 2, UseGraphs = graphs, LearningRate = 3e-2 }, data).Run();
            return ([.. model.Parameters.SelectMany(p => p.Download())], [.. result.History.Select(e => e.TrainLoss)], result.GraphReplays);
        }
        var issued = Train(graphs: false);
        var replayed = Train(graphs: true);
        Assert.Equal(issued.Losses, replayed.Losses);
        Assert.Equal(issued.Parameters, replayed.Parameters);
        Assert.Equal(0, issued.Replays);
        Assert.True(replayed.Replays > 0, "no step was replayed");
    }

    [Theory, MemberData(nameof(Kinds))]
    public void Replayed_inference_passes_are_bit_identical_to_issued_ones(string kind, string precision)
    {
        (float[] Logits, double[] Losses, int Replays) Passes(bool graphs, bool trainingPlan, bool targets)
        {
            using var backend = GpuBackends.Open(kind, precision);
            var data = Data();
            using var model = Model(backend);
            model.UseGraphs = graphs;
            model.Plan(6, 41, training: trainingPlan);
            var logits = new List<float>(); var losses = new List<double>();
            foreach (var (rows, _) in Batches)
            {
                var batch = data.MakeBatch(rows);
                var output = model.Forward(targets ? batch : new TaskBatch { Inputs = batch.Inputs });
                logits.AddRange(output.Logits);
                if (output.Loss is { } loss) losses.Add(loss);
            }
            if (targets) model.Backward();   // still possible: such passes are issued, not replayed
            return ([.. logits], [.. losses], model.PassGraphReplays);
        }
        foreach (var (trainingPlan, targets) in new[] { (false, false), (false, true), (true, false), (true, true) })
        {
            var issued = Passes(graphs: false, trainingPlan, targets);
            var replayed = Passes(graphs: true, trainingPlan, targets);
            Assert.Equal(issued.Logits, replayed.Logits);
            Assert.Equal(issued.Losses, replayed.Losses);
            Assert.Equal(0, issued.Replays);
            // Two shapes, each issued then recorded once. A pass with targets plans for gradients (Forward grows the plan),
            // so a Backward may follow it: it is always issued, never replayed.
            Assert.Equal(targets ? 0 : Batches.Length - 2, replayed.Replays);
        }
    }

    [Fact]
    public void The_CPU_backend_issues_every_op()
    {
        using var backend = GpuBackends.Open("cpu");
        using var model = Model(backend);
        using var adam = new AdamW(model.Parameters);
        using var step = new TrainingStep(model, adam, maxGradNorm: 1.0);
        Assert.False(step.UsesGraphs);
        model.Plan(6, 41, training: true);
        for (int i = 0; i < 3; i++) step.Run(Data().MakeBatch(Batches[0].Rows), seed: 1, lr: 1e-2f);
        Assert.Equal((0, 0), (step.GraphCaptures, step.GraphReplays));
    }
}
