using FastPrefix.Backends.Cpu;
using FastPrefix.Model;
using FastPrefix.Model.Heads;

namespace FastPrefix.Tests.Model;

/// <summary>
/// Length buckets and row padding change no real row: logits, loss and every gradient of a batch padded to a
/// 32-token bucket and to the planned rows equal the unpadded ones (1e-6; gradients 1e-5), for every head, both
/// position modes and RoBERTa.
/// </summary>
public class PaddingTests
{
    static EncoderConfig Config(string type) => new()
    {
        ModelType = type, VocabSize = 30, HiddenSize = 12, NumLayers = 2, NumHeads = 3, IntermediateSize = 20,
        MaxPositionEmbeddings = 48, TypeVocabSize = type == "roberta" ? 1 : 2, LayerNormEps = 1e-5f, PadTokenId = type == "roberta" ? 1 : 0,
    };

    static PTuningModel Build(CpuBackend b, EncoderConfig c, TaskKind kind, PositionMode positions)
    {
        var weights = EncoderWeights.Load(b, c, new SyntheticCheckpoint(c, seed: 5, std: 0.3f));
        int labels = kind switch { TaskKind.QuestionAnswering => 2, TaskKind.MultipleChoice => 1, _ => 4 };
        var model = new PTuningModel(new Encoder(b, weights), new PlainPrefix(b, c, 3), TaskHead.Create(kind, b, c, labels),
            new PTuningOptions { Positions = positions });
        Initialization.Initialize(model, seed: 2);
        foreach (var p in model.Head.Parameters) p.Upload(GradCheck.Random((int)p.Length, 9, 0.5f));
        return model;
    }

    static TaskBatch Batch(TaskKind kind, EncoderConfig c)
    {
        int per = kind == TaskKind.MultipleChoice ? 2 : 1, B = 3 * per, T = 7;
        var rng = new Random(4);
        var ids = new int[B * T]; var mask = new int[B * T]; var types = new int[B * T];
        for (int r = 0; r < B; r++)
            for (int t = 0; t < T - r % 3; t++) { ids[r * T + t] = rng.Next(2, c.VocabSize); mask[r * T + t] = 1; types[r * T + t] = c.TypeVocabSize > 1 && t > 3 ? 1 : 0; }
        var inputs = new EncoderBatch(B, T, ids, mask, types);
        return kind switch
        {
            TaskKind.SequenceClassification => new TaskBatch { Inputs = inputs, Labels = [1, 3, 0] },
            TaskKind.TokenClassification => new TaskBatch { Inputs = inputs, Labels = [.. Enumerable.Range(0, B * T).Select(i => mask[i] == 0 ? -100 : i % 4)] },
            TaskKind.QuestionAnswering => new TaskBatch { Inputs = inputs, StartPositions = [1, 6, 9], EndPositions = [2, 7, 3] },   // 9: ignored
            _ => new TaskBatch { Inputs = inputs, Labels = [1, 0, 1], Choices = 2 },
        };
    }

    public static TheoryData<TaskKind, string, PositionMode> Cases()
    {
        var data = new TheoryData<TaskKind, string, PositionMode>();
        foreach (var kind in Enum.GetValues<TaskKind>()) data.Add(kind, "bert", PositionMode.FromZero);
        data.Add(TaskKind.SequenceClassification, "bert", PositionMode.AfterPrefix);
        data.Add(TaskKind.TokenClassification, "roberta", PositionMode.AfterPrefix);
        data.Add(TaskKind.QuestionAnswering, "roberta", PositionMode.FromZero);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Padding_to_a_bucket_and_to_the_planned_rows_changes_no_real_row(TaskKind kind, string type, PositionMode positions)
    {
        var c = Config(type);
        var batch = Batch(kind, c);
        using var exact = Build(new CpuBackend { SequenceBucket = 1 }, c, kind, positions);
        using var padded = Build(new CpuBackend { SequenceBucket = 32 }, c, kind, positions);

        exact.ZeroGrad();
        var e = exact.Forward(batch);
        exact.Backward();

        padded.Plan(batch.Inputs.Batch + 2 * (kind == TaskKind.MultipleChoice ? 2 : 1), 40, training: true);
        padded.ZeroGrad();
        padded.Stage(batch, training: false, seed: 0, padRows: true);
        Assert.Equal(32, padded.CurrentPlan!.Seq);
        Assert.True(padded.CurrentPlan.Batch > batch.Inputs.Batch);
        padded.Staging.Upload();
        padded.RunForward();
        var p = padded.Read();
        padded.Backward();

        Assert.Equal(e.Shape, p.Shape);
        AssertClose("logits", e.Logits, p.Logits);
        AssertClose("loss", [(float)e.Loss!.Value], [(float)p.Loss!.Value]);
        for (int i = 0; i < exact.Parameters.Count; i++)
            AssertClose(exact.Parameters[i].Name + " gradient", exact.Parameters[i].DownloadGrad(), padded.Parameters[i].DownloadGrad(), 1e-5);
    }

    /// <summary>Values within 1e-6 of the largest (gradients 1e-5: longer rows change fp32 summation order, not the terms).</summary>
    static void AssertClose(string what, float[] expected, float[] got, double tolerance = 1e-6)
    {
        Assert.Equal(expected.Length, got.Length);
        double scale = Math.Max(expected.Max(Math.Abs), 1e-6), worst = 0;
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - got[i]));
        Assert.True(worst / scale <= tolerance, $"{what}: relative difference {worst / scale:E2} > {tolerance:E0}");
    }
}
