using FastPrefix.Backends;
using FastPrefix.Backends.Cpu;
using FastPrefix.Model;
using FastPrefix.Model.Heads;
using FastPrefix.Training;

namespace FastPrefix.Tests.Training;

/// <summary>
/// A tiny, reliably learnable task for trainer tests: rows of 3–6 random tokens after a [CLS] token; the label
/// is whether token 5 occurs in the row. A random synthetic backbone, a plain prefix and a classifier head.
/// </summary>
sealed class ToyTask : ITrainingData, IEvaluator
{
    public const int Token = 5, Cls = 1, Pad = 0;
    readonly int[][] _rows;
    readonly int[] _labels;

    public ToyTask(int count, int seed, int maxLen = 6)
    {
        var rng = new Random(seed);
        _rows = new int[count][];
        _labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            int len = rng.Next(3, maxLen + 1);
            var row = new int[len + 1];
            row[0] = Cls;
            for (int t = 1; t <= len; t++) { int id; do id = rng.Next(2, VocabSize); while (id == Token); row[t] = id; }
            _labels[i] = i % 2;
            if (_labels[i] == 1) row[rng.Next(1, len + 1)] = Token;
            _rows[i] = row;
        }
    }

    public const int VocabSize = 12;

    public static EncoderConfig Config(int hidden, int maxPositions = 16) => new()
    {
        ModelType = "bert", VocabSize = VocabSize, HiddenSize = hidden, NumLayers = 2, NumHeads = 2, IntermediateSize = 32,
        MaxPositionEmbeddings = maxPositions, TypeVocabSize = 2, LayerNormEps = 1e-5f, HiddenDropout = 0.1f, AttentionDropout = 0.1f,
    };

    /// <summary>
    /// The model (on <paramref name="backend"/>, default a new CPU backend) with deterministic initial parameters (prefix ~ N(0, 0.5), head weight ~ N(0, 0.02), bias 0) on a
    /// random backbone (weights ~ N(0, 0.3): large enough that the prefix of layer 0 changes what layer 1 sees).
    /// </summary>
    public static PTuningModel BuildModel(int hidden = 16, PTuningOptions? options = null, int prefixLen = 4, IBackend? backend = null, int maxPositions = 16)
    {
        var b = backend ?? new CpuBackend();
        var c = Config(hidden, maxPositions);
        var weights = EncoderWeights.Load(b, c, new SyntheticCheckpoint(c, seed: 11, std: 0.3f));
        var model = new PTuningModel(new Encoder(b, weights), new PlainPrefix(b, c, prefixLen), TaskHead.Create(TaskKind.SequenceClassification, b, c, 2), options);
        var rng = new Random(7);
        foreach (var p in model.Parameters)
        {
            float std = p.Name == "prefix" ? 0.5f : p.WeightDecay ? 0.02f : 0f;
            p.Upload([.. Enumerable.Range(0, (int)p.Length).Select(_ => (float)(std * SyntheticCheckpoint.Gaussian(rng)))]);
        }
        return model;
    }

    public int Count => _rows.Length;
    public int LengthOf(int index) => _rows[index].Length;
    public int Label(int index) => _labels[index];

    public TaskBatch MakeBatch(IReadOnlyList<int> exampleIndices)
    {
        int B = exampleIndices.Count, T = exampleIndices.Max(LengthOf);
        var ids = new int[B * T]; var mask = new int[B * T]; var labels = new int[B];
        for (int b = 0; b < B; b++)
        {
            var row = _rows[exampleIndices[b]];
            for (int t = 0; t < row.Length; t++) { ids[b * T + t] = row[t]; mask[b * T + t] = 1; }
            labels[b] = _labels[exampleIndices[b]];
        }
        return new TaskBatch { Inputs = new EncoderBatch(B, T, ids, mask), Labels = labels };
    }

    // ---- evaluation: accuracy and mean loss over all examples ----
    public string MainMetric => "accuracy";
    public bool HigherIsBetter => true;

    public IReadOnlyDictionary<string, double> Evaluate(PTuningModel model)
    {
        int correct = 0; double lossSum = 0; int batches = 0;
        for (int start = 0; start < Count; start += 32)
        {
            var idx = Enumerable.Range(start, Math.Min(32, Count - start)).ToArray();
            var output = model.Forward(MakeBatch(idx));
            for (int i = 0; i < idx.Length; i++)
                if ((output.Logits[2 * i + 1] > output.Logits[2 * i] ? 1 : 0) == _labels[idx[i]]) correct++;
            lossSum += output.Loss!.Value; batches++;
        }
        return new Dictionary<string, double> { ["accuracy"] = (double)correct / Count, ["loss"] = lossSum / batches };
    }
}

/// <summary>An evaluator that replays a fixed sequence of scores and records the parameters it saw.</summary>
sealed class ScriptedEvaluator(params double[] values) : IEvaluator
{
    int _calls;
    public string MainMetric => "score";
    public bool HigherIsBetter { get; init; } = true;
    public List<float[]> Seen { get; } = [];
    public IReadOnlyDictionary<string, double> Evaluate(PTuningModel model)
    {
        Seen.Add([.. model.Parameters.SelectMany(p => p.Download())]);
        return new Dictionary<string, double> { ["score"] = values[_calls++] };
    }
}
