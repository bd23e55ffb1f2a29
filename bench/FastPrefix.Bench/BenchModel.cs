using FastPrefix.Backends;
using FastPrefix.Backends.Cpu;
using FastPrefix.Model;
using FastPrefix.Model.Heads;
using FastPrefix.Training;

namespace FastPrefix.Bench;

/// <summary>
/// The benchmark model of the CPU-speed goal: a random 4-layer BERT (hidden 512, 8 heads, intermediate 2048),
/// batch 8 × seq 128, prefix 16, sequence classification with 2 labels; dropout as in training (0.1).
/// </summary>
public sealed class BenchModel : IDisposable
{
    public const int Layers = 4, Hidden = 512, Heads = 8, Intermediate = 2048, Batch = 8, Seq = 128, PrefixLen = 16, Labels = 2;

    public static EncoderConfig Config => new()
    {
        ModelType = "bert", VocabSize = 30522, HiddenSize = Hidden, NumLayers = Layers, NumHeads = Heads, IntermediateSize = Intermediate,
        MaxPositionEmbeddings = 512, TypeVocabSize = 2, LayerNormEps = 1e-12f, HiddenDropout = 0.1f, AttentionDropout = 0.1f,
    };

    public BenchModel(bool profile = false)
    {
        Backend = new CpuBackend();
        Profiler = profile ? new OpProfiler(Backend) : null;
        FastPrefix.Backends.IBackend backend = (FastPrefix.Backends.IBackend?)Profiler ?? Backend;
        var config = Config;
        var weights = EncoderWeights.Load(backend, config, new SyntheticCheckpoint(config, seed: 1));
        Model = new PTuningModel(new Encoder(backend, weights), new PlainPrefix(backend, config, PrefixLen),
            TaskHead.Create(TaskKind.SequenceClassification, backend, config, Labels));
        var rng = new Random(2);
        foreach (var p in Model.Parameters)
            p.Upload(Enumerable.Range(0, (int)p.Length).Select(_ => (float)(0.02 * SyntheticCheckpoint.Gaussian(rng))).ToArray());
        var ids = new int[Batch * Seq]; var mask = new int[Batch * Seq];
        for (int b = 0; b < Batch; b++)
            for (int t = 0; t < Seq; t++)
            {
                bool real = t < Seq - 9 * b;                  // rows padded by 0..63 tokens, as a length-bucketed batch
                ids[b * Seq + t] = real ? rng.Next(1000, config.VocabSize) : 0;
                mask[b * Seq + t] = real ? 1 : 0;
            }
        Batch_ = new TaskBatch { Inputs = new EncoderBatch(Batch, Seq, ids, mask), Labels = Enumerable.Range(0, Batch).Select(i => i % Labels).ToArray() };
        Optimizer = new AdamW(Model.Parameters);
    }

    public CpuBackend Backend { get; }
    /// <summary>Per-op timings when built with profile: true.</summary>
    public OpProfiler? Profiler { get; }
    public PTuningModel Model { get; }
    public TaskBatch Batch_ { get; }
    public AdamW Optimizer { get; }
    ulong _step;

    public double Forward() => Model.Forward(Batch_, training: false).Logits[0];

    /// <summary>Forward + backward + AdamW update, as the trainer runs a step.</summary>
    public double TrainStep()
    {
        Model.ZeroGrad();
        var loss = Model.Forward(Batch_, training: true, seed: ++_step).Loss!.Value;
        Model.Backward();
        Optimizer.Step(1e-3f);
        return loss;
    }

    public void Dispose() => Model.Dispose();
}
