using FastPrefix.Backends.Cpu;
using FastPrefix.Model;
using FastPrefix.Model.Heads;

namespace FastPrefix.Tests.Model;

/// <summary>
/// Finite differences of the whole model's loss against its backward, for every head, both prefix kinds,
/// a prefix depth, a mixed-task batch, both position modes, RoBERTa positions, and dropout switched on
/// (same seed, same masks, so the loss is a deterministic function of the parameters).
/// </summary>
public class ModelGradientTests
{
    static EncoderConfig Config(string type = "bert", int hidden = 12, int heads = 3) => new()
    {
        ModelType = type, VocabSize = 30, HiddenSize = hidden, NumLayers = 3, NumHeads = heads, IntermediateSize = 20,
        MaxPositionEmbeddings = 40, TypeVocabSize = type == "roberta" ? 1 : 2, LayerNormEps = 1e-5f,
        HiddenDropout = 0.1f, AttentionDropout = 0.1f, PadTokenId = type == "roberta" ? 1 : 0,
    };

    static EncoderBatch Batch(int B, int T, EncoderConfig c, int adapters = 1, int seed = 3)
    {
        var rng = new Random(seed);
        var ids = new int[B * T]; var mask = new int[B * T]; var types = new int[B * T];
        for (int b = 0; b < B; b++)
        {
            int len = T - b % 3;
            for (int t = 0; t < T; t++)
            {
                mask[b * T + t] = t < len ? 1 : 0;
                ids[b * T + t] = t < len ? rng.Next(2, c.VocabSize) : c.PadTokenId;
                types[b * T + t] = c.TypeVocabSize > 1 && t > len / 2 ? 1 : 0;
            }
        }
        return new EncoderBatch(B, T, ids, mask, types, adapters > 1 ? Enumerable.Range(0, B).Select(b => b % adapters).ToArray() : null);
    }

    static void Randomise(PTuningModel model, int seed)
    {
        int i = 0;
        foreach (var p in model.Parameters) p.Upload(GradCheck.Random((int)p.Length, seed + i++, 0.5f));
    }

    static void CheckAll(PTuningModel model, TaskBatch batch, bool training, ulong seed = 42)
    {
        model.ZeroGrad();
        model.Forward(batch, training, seed);
        model.Backward();
        foreach (var p in model.Parameters)
        {
            var values = p.Download();
            GradCheck.Check(p.Name, values, p.DownloadGrad(), v => p.Upload(v), () => model.Forward(batch, training, seed).Loss!.Value,
                samples: 16, eps: 5e-3f, tol: 1e-2);
        }
    }

    static PTuningModel Build(EncoderConfig c, TaskKind kind, int labels, Prefix? prefix = null, PTuningOptions? options = null, int tasks = 1)
    {
        var b = new CpuBackend();
        var weights = EncoderWeights.Load(b, c, new SyntheticCheckpoint(c, seed: 5, std: 0.3f));
        var model = new PTuningModel(new Encoder(b, weights), prefix ?? new PlainPrefix(b, c, 3, 0, tasks), TaskHead.Create(kind, b, c, labels, tasks), options);
        Randomise(model, 100);
        return model;
    }

    [Theory]
    [InlineData("bert", false)]
    [InlineData("bert", true)]
    [InlineData("roberta", true)]
    public void Sequence_classification_gradients(string type, bool training)
    {
        var c = Config(type);
        var model = Build(c, TaskKind.SequenceClassification, 3);
        CheckAll(model, new TaskBatch { Inputs = Batch(3, 5, c), Labels = [0, 2, 1] }, training);
    }

    [Fact]
    public void Token_classification_gradients_with_ignored_labels_and_dropout()
    {
        var c = Config();
        var model = Build(c, TaskKind.TokenClassification, 4);
        var labels = new[] { 0, 1, 2, 3, -100, 3, -100, 1, 0, -100 };
        CheckAll(model, new TaskBatch { Inputs = Batch(2, 5, c), Labels = labels }, training: true);
    }

    [Fact]
    public void Question_answering_gradients()
    {
        var c = Config();
        var model = Build(c, TaskKind.QuestionAnswering, 2);
        CheckAll(model, new TaskBatch { Inputs = Batch(2, 6, c), StartPositions = [1, 3], EndPositions = [2, 9] }, training: false); // 9 is clamped to T and ignored
    }

    [Fact]
    public void Multiple_choice_gradients()
    {
        var c = Config();
        var model = Build(c, TaskKind.MultipleChoice, 1);
        CheckAll(model, new TaskBatch { Inputs = Batch(6, 4, c), Labels = [2, 0], Choices = 3 }, training: true);
    }

    [Fact]
    public void Mlp_prefix_gradients_with_depth_and_after_prefix_positions()
    {
        var c = Config();
        var b = new CpuBackend();
        var model = Build(c, TaskKind.SequenceClassification, 2, new MlpPrefix(b, c, 2, 7, firstLayer: 1), new PTuningOptions { Positions = PositionMode.AfterPrefix });
        CheckAll(model, new TaskBatch { Inputs = Batch(3, 4, c), Labels = [1, 0, 1] }, training: true);
    }

    [Fact]
    public void Mixed_task_batch_gradients_reach_every_adapter_and_head()
    {
        var c = Config(hidden: 10, heads: 5);
        var model = Build(c, TaskKind.SequenceClassification, 3, tasks: 3);
        var batch = new TaskBatch { Inputs = Batch(5, 4, c, adapters: 3), Labels = [0, 1, 2, 2, 1] };
        CheckAll(model, batch, training: false);
        // every adapter's slice of the bank got a gradient
        var grad = model.Prefix.Parameters[0].DownloadGrad();
        int per = grad.Length / 3;
        for (int a = 0; a < 3; a++) Assert.Contains(grad.Skip(a * per).Take(per), g => g != 0);
    }

    [Fact]
    public void Dropout_off_in_evaluation_and_seeded_in_training()
    {
        var c = Config();
        var model = Build(c, TaskKind.SequenceClassification, 3);
        var batch = new TaskBatch { Inputs = Batch(3, 5, c), Labels = [0, 2, 1] };
        var e1 = model.Forward(batch, false, 1).Logits; var e2 = model.Forward(batch, false, 2).Logits;
        Assert.Equal(e1, e2);
        var t1 = model.Forward(batch, true, 1).Logits; var t1b = model.Forward(batch, true, 1).Logits; var t2 = model.Forward(batch, true, 2).Logits;
        Assert.Equal(t1, t1b);
        Assert.NotEqual(t1, t2);
        Assert.NotEqual(e1, t1);
    }

    [Fact]
    public void Rows_of_a_batch_are_independent()
    {
        // A row's logits must not depend on what else is in the batch (padding, other rows).
        var c = Config();
        var model = Build(c, TaskKind.SequenceClassification, 3);
        var full = Batch(3, 5, c);
        var all = model.Forward(new TaskBatch { Inputs = full }).Logits;
        var one = model.Forward(new TaskBatch { Inputs = new EncoderBatch(1, 5, full.InputIds[5..10], full.AttentionMask[5..10], full.TokenTypeIds[5..10]) }).Logits;
        for (int k = 0; k < 3; k++) Assert.Equal(all[3 + k], one[k], 5);
    }
}
