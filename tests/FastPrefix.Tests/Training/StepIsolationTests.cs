using FastPrefix.Backends;
using FastPrefix.Model;
using FastPrefix.Model.Heads;
using FastPrefix.Training;

namespace FastPrefix.Tests.Training;

/// <summary>
/// A training step is a fixed sequence of backend ops between one upload and a lazy read-back: a recording decorator
/// sees, for every task kind, with and without dropout, a plain and an MLP prefix and a prefix depth, that after the
/// step's single upload nothing but ops run until the next upload or read-back, and nothing is allocated after the
/// first step (the plan is made once).
/// </summary>
public class StepIsolationTests
{
    sealed class RecordingBackend(IBackend inner) : BackendDecorator(inner)
    {
        public readonly List<(string Name, BackendCallKind Kind)> Calls = [];
        public bool Recording;
        protected override void Before(string name, BackendCallKind kind) { if (Recording) Calls.Add((name, kind)); }
    }

    /// <summary>Random batches of a task kind with lengths that vary from batch to batch (so length buckets change).</summary>
    sealed class RandomTaskData(TaskKind kind, EncoderConfig config, int count, int labels, int choices = 3) : ITrainingData
    {
        readonly int[] _lengths = [.. Enumerable.Range(0, count).Select(i => 3 + i * 7 % 9)];
        public int Count => count;
        public int LengthOf(int index) => _lengths[index];

        public TaskBatch MakeBatch(IReadOnlyList<int> idx)
        {
            int per = kind == TaskKind.MultipleChoice ? choices : 1, B = idx.Count * per, T = idx.Max(LengthOf);
            var rng = new Random(idx[0]);
            var ids = new int[B * T]; var mask = new int[B * T];
            for (int r = 0; r < B; r++)
                for (int t = 0; t < _lengths[idx[r / per]]; t++) { ids[r * T + t] = rng.Next(1, config.VocabSize); mask[r * T + t] = 1; }
            var inputs = new EncoderBatch(B, T, ids, mask);
            return kind switch
            {
                TaskKind.SequenceClassification => new TaskBatch { Inputs = inputs, Labels = [.. idx.Select(i => i % labels)] },
                TaskKind.TokenClassification => new TaskBatch { Inputs = inputs, Labels = [.. Enumerable.Range(0, B * T).Select(i => mask[i] == 0 ? -100 : i % labels)] },
                TaskKind.QuestionAnswering => new TaskBatch { Inputs = inputs, StartPositions = [.. idx.Select(i => i % 3)], EndPositions = [.. idx.Select(i => i % 3 + 1)] },
                _ => new TaskBatch { Inputs = inputs, Labels = [.. idx.Select(i => i % choices)], Choices = choices },
            };
        }
    }

    static EncoderConfig Config(float dropout) => new()
    {
        ModelType = "bert", VocabSize = 20, HiddenSize = 12, NumLayers = 3, NumHeads = 3, IntermediateSize = 16,
        MaxPositionEmbeddings = 32, TypeVocabSize = 2, LayerNormEps = 1e-5f, HiddenDropout = dropout, AttentionDropout = dropout,
    };

    /// <summary>Every case on the CPU and on the CUDA backend (simulated GPU, and a real one when present).</summary>
    public static TheoryData<string, TaskKind, bool, bool, int> Cases()
    {
        var data = new TheoryData<string, TaskKind, bool, bool, int>();
        foreach (var backend in new[] { "cpu", "cuda-sim", "cuda" })
        {
            foreach (var kind in Enum.GetValues<TaskKind>())
                foreach (bool dropout in new[] { false, true })
                    data.Add(backend, kind, dropout, false, 0);
            data.Add(backend, TaskKind.SequenceClassification, true, true, 0);    // MLP prefix
            data.Add(backend, TaskKind.TokenClassification, true, false, 1);      // prefix depth
            data.Add(backend, TaskKind.MultipleChoice, true, true, 2);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_step_runs_only_ops_between_its_upload_and_the_read_back(string backend, TaskKind kind, bool dropout, bool mlp, int firstLayer)
    {
        var c = Config(dropout ? 0.1f : 0f);
        using var inner = GpuBackends.Open(backend);
        var rec = new RecordingBackend(inner);
        var weights = EncoderWeights.Load(rec, c, new SyntheticCheckpoint(c, seed: 3));
        Prefix prefix = mlp ? new MlpPrefix(rec, c, 3, 5, firstLayer) : new PlainPrefix(rec, c, 3, firstLayer);
        int labels = kind switch { TaskKind.QuestionAnswering => 2, TaskKind.MultipleChoice => 1, _ => 3 };
        using var model = new PTuningModel(new Encoder(rec, weights), prefix, TaskHead.Create(kind, rec, c, labels));
        Initialization.Initialize(model, seed: 1);
        var data = new RandomTaskData(kind, c, count: 13, labels: 3);
        const int steps = 9;
        var trainer = new Trainer(model, data, new TrainingOptions { BatchSize = 4, MaxSteps = steps, LengthBucketing = false });

        rec.Recording = true;
        var result = trainer.Run();
        rec.Recording = false;
        Assert.Equal(steps, result.Steps);

        var calls = rec.Calls;
        var uploads = calls.Select((call, i) => (call, i)).Where(x => x.call.Kind == BackendCallKind.Upload).Select(x => x.i).ToList();
        Assert.Equal(steps, uploads.Count);   // one upload per step: the staging area
        foreach (int u in uploads)
            for (int i = u + 1; i < calls.Count && calls[i].Kind is not (BackendCallKind.Upload or BackendCallKind.Download); i++)
                Assert.True(calls[i].Kind == BackendCallKind.Op, $"{calls[i].Name} ({calls[i].Kind}) ran inside a step");
        int firstStepEnd = uploads.Count > 1 ? uploads[1] : calls.Count;
        var late = calls.Skip(firstStepEnd).Where(x => x.Kind == BackendCallKind.Allocation).Select(x => x.Name).ToList();
        Assert.True(late.Count == 0, $"allocated after the first step: {string.Join(", ", late)}");
        Assert.True(double.IsFinite(result.History[^1].TrainLoss));
    }

    [Fact]
    public void A_non_finite_loss_found_at_the_lazy_read_back_names_its_step()
    {
        using var model = ToyTask.BuildModel();
        var data = new ToyTask(40, seed: 5);
        int batches = 0;
        // Poison the head before the 3rd step: steps 3.. produce NaN; the read-back at the epoch end reports step 3.
        var trainer = new Trainer(model, new PoisonAfter(data, 2, () => model.Head.Weight.Upload(Enumerable.Repeat(float.NaN, (int)model.Head.Weight.Length).ToArray()), () => batches++),
            new TrainingOptions { BatchSize = 8, Epochs = 1 });
        var e = Assert.Throws<TrainingException>(() => trainer.Run());
        Assert.Contains("loss is NaN at epoch 1, step 3", e.Message);
    }

    sealed class PoisonAfter(ITrainingData inner, int batches, Action poison, Action counted) : ITrainingData
    {
        int _made;
        public int Count => inner.Count;
        public int LengthOf(int index) => inner.LengthOf(index);
        public TaskBatch MakeBatch(IReadOnlyList<int> idx)
        {
            if (_made++ == batches) poison();
            counted();
            return inner.MakeBatch(idx);
        }
    }
}
