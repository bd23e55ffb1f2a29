using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using FastPrefix.Backends;
using FastPrefix.Backends.Cuda;
using FastPrefix.Backends.Cpu;
using FastPrefix.Model;
using FastPrefix.Model.Heads;
using FastPrefix.Training;

namespace FastPrefix.Cli.Commands;

/// <summary>What `fastprefix bench` was asked to measure.</summary>
internal sealed record BenchRequest
{
    public required EncoderConfig Config { get; init; }
    public required string ShapeName { get; init; }
    public int Batch { get; init; } = 32;
    public int Seq { get; init; } = 128;
    public int Prefix { get; init; } = 20;
    public bool Train { get; init; } = true;
    public bool Infer { get; init; } = true;
    public int Steps { get; init; } = 20;
    public int Warmup { get; init; } = 3;
    public string Device { get; init; } = "auto";
    public string? Precision { get; init; }
    public bool Json { get; init; }
    public bool Graphs { get; init; } = true;
    public bool Profile { get; init; }
}

/// <summary>
/// `fastprefix bench`: a random backbone of a standard or custom shape, full-length rows of random tokens, a prefix and
/// a two-label sequence-classification head; times training steps (forward, backward, gradient norm, AdamW: what the
/// trainer runs, dropout 0.1) and inference passes, each step waited for, and prints ms per step (median, p90),
/// tokens/s, achieved TFLOP/s and peak memory. Works on every device.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var shape = new Option<string>("--shape") { Description = "bert-base | bert-large | custom (then --layers, --hidden, --heads, --intermediate)", DefaultValueFactory = _ => "bert-base" };
        shape.AcceptOnlyFromAmong("bert-base", "bert-large", "custom");
        var layers = new Option<int?>("--layers") { Description = "custom shape: encoder layers" };
        var hidden = new Option<int?>("--hidden") { Description = "custom shape: hidden size" };
        var heads = new Option<int?>("--heads") { Description = "custom shape: attention heads" };
        var intermediate = new Option<int?>("--intermediate") { Description = "custom shape: feed-forward size (default 4 × hidden)" };
        var batch = new Option<int>("--batch") { Description = "Rows per step", DefaultValueFactory = _ => 32 };
        var seq = new Option<int>("--seq") { Description = "Tokens per row (every row full)", DefaultValueFactory = _ => 128 };
        var prefix = new Option<int>("--prefix") { Description = "Prefix length", DefaultValueFactory = _ => 20 };
        var train = new Option<bool>("--train") { Description = "Time training steps (with --infer: both; neither: both)" };
        var infer = new Option<bool>("--infer") { Description = "Time inference passes" };
        var steps = new Option<int>("--steps") { Description = "Timed steps", DefaultValueFactory = _ => 20 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed steps first (kernels load, buffers are planned)", DefaultValueFactory = _ => 3 };
        var json = new Option<bool>("--json") { Description = "Also print one JSON line per measurement (for scripts)" };
        var profile = new Option<bool>("--profile")
        {
            Description = "Also time every op (on a GPU by device events around each op) and print where a step goes; " +
                          "steps are then issued op by op (no graphs) and carry the events' overhead",
        };
        var device = CommonOptions.Device();
        var precision = CommonOptions.Precision();
        var graphs = CommonOptions.Graphs();
        var command = new Command("bench", "Time training and inference on a random backbone: ms per step, tokens/s, TFLOP/s, peak memory")
        {
            shape, layers, hidden, heads, intermediate, batch, seq, prefix, train, infer, steps, warmup, json, device, precision, graphs, profile,
        };
        command.SetAction(p => CliErrors.Run(() =>
        {
            var (config, name) = Shape(p.GetValue(shape)!, p.GetValue(layers), p.GetValue(hidden), p.GetValue(heads), p.GetValue(intermediate), p.GetValue(seq));
            bool t = p.GetValue(train), i = p.GetValue(infer);
            return Execute(new BenchRequest
            {
                Config = config, ShapeName = name, Batch = p.GetValue(batch), Seq = p.GetValue(seq), Prefix = p.GetValue(prefix),
                Train = t || !i, Infer = i || !t, Steps = p.GetValue(steps), Warmup = p.GetValue(warmup),
                Device = p.GetValue(device)!, Precision = p.GetValue(precision), Json = p.GetValue(json),
                Graphs = p.GetValue(graphs) == "on", Profile = p.GetValue(profile),
            }, Console.Out);
        }));
        return command;
    }

    /// <summary>The backbone's config: a standard shape (BERT's vocabulary, 512 positions), or a custom one.</summary>
    internal static (EncoderConfig Config, string Name) Shape(string shape, int? layers, int? hidden, int? heads, int? intermediate, int seq)
    {
        var (l, c, h, i) = shape switch
        {
            "bert-base" => (12, 768, 12, 3072),
            "bert-large" => (24, 1024, 16, 4096),
            _ => (layers ?? throw new UserInputException("--shape custom needs --layers"), hidden ?? throw new UserInputException("--shape custom needs --hidden"),
                  heads ?? throw new UserInputException("--shape custom needs --heads"), intermediate ?? 4 * (hidden ?? 0)),
        };
        if (shape != "custom" && (layers ?? hidden ?? heads ?? intermediate) != null)
            throw new UserInputException($"--layers, --hidden, --heads and --intermediate go with --shape custom, not {shape}");
        if (l <= 0 || c <= 0 || h <= 0 || i <= 0) throw new UserInputException($"--shape custom: layers, hidden, heads and intermediate must be positive");
        if (c % h != 0) throw new UserInputException($"--hidden {c} is not a multiple of --heads {h}");
        var config = new EncoderConfig
        {
            ModelType = "bert", VocabSize = 30522, HiddenSize = c, NumLayers = l, NumHeads = h, IntermediateSize = i,
            MaxPositionEmbeddings = Math.Max(512, seq), TypeVocabSize = 2, HiddenDropout = 0.1f, AttentionDropout = 0.1f,
        };
        return (config, shape == "custom" ? $"custom ({l} layers, hidden {c}, {h} heads, intermediate {i})" : shape);
    }

    public static int Execute(BenchRequest r, TextWriter output)
    {
        if (r.Batch <= 0 || r.Seq <= 0 || r.Prefix <= 0) throw new UserInputException($"--batch, --seq and --prefix must be positive (got {r.Batch}, {r.Seq}, {r.Prefix})");
        if (r.Steps <= 0 || r.Warmup < 0) throw new UserInputException($"--steps must be positive and --warmup at least 0 (got {r.Steps}, {r.Warmup})");
        var config = r.Config;
        using var device = BackendFactory.Create(r.Device, r.Precision, note => Console.Error.WriteLine(note));
        using var profiler = r.Profile ? new OpProfiler(device) : null;
        IBackend backend = (IBackend?)profiler ?? device;
        var clock = Stopwatch.StartNew();
        using var weights = EncoderWeights.Load(backend, config, new SyntheticCheckpoint(config, seed: 1));
        using var model = new PTuningModel(new Encoder(backend, weights), new PlainPrefix(backend, config, r.Prefix),
            TaskHead.Create(TaskKind.SequenceClassification, backend, config, 2));
        Initialization.Initialize(model, 1);
        output.WriteLine($"bench: {r.ShapeName}, batch {r.Batch} × {r.Seq}, prefix {r.Prefix} on {backend.Name}; random weights loaded in {clock.Elapsed.TotalSeconds:F1} s");

        var rng = new Random(3);
        var ids = new int[r.Batch * r.Seq];
        for (int k = 0; k < ids.Length; k++) ids[k] = k % r.Seq == 0 ? 101 : rng.Next(1000, config.VocabSize);
        var batch = new TaskBatch
        {
            Inputs = new EncoderBatch(r.Batch, r.Seq, ids, Enumerable.Repeat(1, ids.Length).ToArray()),
            Labels = [.. Enumerable.Range(0, r.Batch).Select(b => b % 2)],
        };
        model.Plan(r.Batch, r.Seq, training: r.Train);
        model.UseGraphs = r.Graphs;
        if (r.Train)
        {
            using var adam = new AdamW(model.Parameters);
            using var step = new TrainingStep(model, adam, maxGradNorm: 1.0, useGraphs: r.Graphs);
            var times = Time(r, s =>
            {
                step.Run(batch, (ulong)s, 1e-3f);   // as the trainer runs a step (lr 1e-3)
                model.Backend.Download(model.Results, new float[2]);   // waits for it
            }, profiler);
            string? graphs = device is not ICapturingBackend ? null : GraphsNote(r, step.UsesGraphs, step.GraphOperations, "step");
            Report("train", graphs, times, r, device, output);
            if (profiler != null) PrintProfile("train", profiler, times, r, output);
        }
        if (r.Infer)
        {
            var times = Time(r, InferStep(model, batch), profiler);
            string? graphs = device is not ICapturingBackend ? null : GraphsNote(r, r.Graphs && !r.Profile, model.PassGraphOperations, "pass");
            Report("infer", graphs, times, r, device, output);
            if (profiler != null) PrintProfile("infer", profiler, times, r, output);
        }
        return CliErrors.Ok;
    }

    /// <summary>An inference pass: stage, upload, forward, read the logits back.</summary>
    static Action<int> InferStep(PTuningModel model, TaskBatch batch)
    {
        var inputs = new TaskBatch { Inputs = batch.Inputs };
        return step =>
        {
            model.Stage(inputs, training: false, seed: 0);
            model.Staging.Upload();
            model.RunForward();
            model.Read();
        };
    }

    static double[] Time(BenchRequest r, Action<int> step, OpProfiler? profiler)
    {
        for (int s = 0; s < r.Warmup; s++) step(s);
        profiler?.Reset();
        var ms = new double[r.Steps];
        for (int s = 0; s < r.Steps; s++)
        {
            long start = Stopwatch.GetTimestamp();
            step(r.Warmup + s);
            ms[s] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(ms);
        return ms;
    }

    /// <summary>How the steps ran on a backend that records graphs.</summary>
    static string GraphsNote(BenchRequest r, bool on, int operations, string unit) =>
        !on ? (r.Profile ? "graphs off: profiled" : "graphs off")
        : operations > 0 ? $"graphs on: one graph of {operations} ops a {unit}"
        : $"graphs on, but no {unit} was replayed: the first of a shape issues its ops, the second records them (use --warmup 2)";

    /// <summary>Each op's share of a step (mean over the timed steps), largest first, and what no op accounts for.</summary>
    static void PrintProfile(string mode, OpProfiler profiler, double[] sorted, BenchRequest r, TextWriter output)
    {
        double step = sorted.Average();
        var ops = profiler.Totals.Where(kv => kv.Key is not ("upload" or "download"))
            .Select(kv => (Name: kv.Key, Ms: kv.Value.Milliseconds / r.Steps, Calls: kv.Value.Calls / r.Steps)).OrderByDescending(o => o.Ms).ToList();
        string clock = profiler.TimesOnDevice ? "device time" : "wall time";
        output.WriteLine($"{mode} profile ({clock} per step, mean of {r.Steps}; the step took {step:F2} ms):");
        foreach (var (name, ms, calls) in ops)
            output.WriteLine($"  {name,-28} {ms,9:F3} ms {100 * ms / step,5:F1} %  {calls,5} calls");
        double listed = ops.Sum(o => o.Ms);
        // The optimiser works on its parameters' own backend, not through the profiler: it counts here with host work.
        output.WriteLine($"  {"(host, waits, optimiser)",-28} {step - listed,9:F3} ms {100 * (step - listed) / step,5:F1} %");
        if (r.Json)
            output.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["profile"] = mode, ["step_ms"] = Math.Round(step, 3),
                ["ops_ms"] = ops.ToDictionary(o => o.Name, o => Math.Round(o.Ms, 4)),
            }));
    }

    /// <param name="graphs">How training steps ran where the backend can record graphs; null elsewhere.</param>
    static void Report(string mode, string? graphs, double[] sorted, BenchRequest r, IBackend backend, TextWriter output)
    {
        double median = Percentile(sorted, 0.5), p90 = Percentile(sorted, 0.9);
        double flops = mode == "train" ? BenchFlops.TrainStep(r.Config, r.Batch, r.Seq, r.Prefix) : BenchFlops.Forward(r.Config, r.Batch, r.Seq, r.Prefix);
        double tokensPerSecond = r.Batch * (double)r.Seq / (median / 1000);
        double tflops = flops / (median / 1000) / 1e12;
        var (peak, what) = PeakMemory(backend);
        string rate = tflops >= 0.1 ? $"{tflops:F2} TFLOP/s" : $"{tflops * 1000:F2} GFLOP/s";
        string label = graphs != null ? $"{mode} ({graphs})" : mode;
        output.WriteLine($"{label}: {median:F2} ms/step median, {p90:F2} p90 ({r.Steps} steps after {r.Warmup} warm-up); {tokensPerSecond:N0} tokens/s; " +
                         $"{rate} ({flops / 1e9:N1} GFLOP a step); peak memory {OutputFolder.Megabytes(peak)} ({what})");
        if (r.Json)
            output.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["mode"] = mode, ["graphs"] = graphs?.StartsWith("graphs on", StringComparison.Ordinal) == true, ["profiled"] = r.Profile, ["shape"] = r.ShapeName, ["backend"] = backend.Name, ["batch"] = r.Batch, ["seq"] = r.Seq, ["prefix"] = r.Prefix,
                ["ms_median"] = Math.Round(median, 3), ["ms_p90"] = Math.Round(p90, 3), ["tokens_per_s"] = Math.Round(tokensPerSecond),
                ["tflops"] = Math.Round(tflops, 3), ["peak_bytes"] = peak,
            }));
    }

    static double Percentile(double[] sorted, double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];

    /// <summary>The backend's peak device allocation on a GPU; the process's peak working set on the CPU.</summary>
    static (long Bytes, string What) PeakMemory(IBackend backend) => backend switch
    {
        CudaBackend gpu => (gpu.PeakAllocatedBytes, "device memory of the backend's tensors and workspaces"),
        _ => (Process.GetCurrentProcess().PeakWorkingSet64, "process peak working set"),
    };
}

/// <summary>
/// Model FLOPs of a pass (multiply-adds × 2 of the matrix products; elementwise work and the backward's recomputation
/// of attention scores are not counted): per layer the q|k|v, output and feed-forward projections, and attention over
/// P + T keys; the pooler. A training step adds the backward of the prefix-only model: input gradients of every
/// projection (the lowest layer needs none for q|k|v) and four attention products instead of two.
/// </summary>
internal static class BenchFlops
{
    public static double Forward(EncoderConfig c, int batch, int seq, int prefix)
    {
        double n = (double)batch * seq, C = c.HiddenSize, I = c.IntermediateSize, keys = prefix + seq;
        double projections = 2 * n * C * (3 * C + C + 2 * I);
        double attention = 2 * 2 * n * keys * C;
        return c.NumLayers * (projections + attention) + 2.0 * batch * C * C;
    }

    public static double TrainStep(EncoderConfig c, int batch, int seq, int prefix)
    {
        double n = (double)batch * seq, C = c.HiddenSize, I = c.IntermediateSize, keys = prefix + seq;
        double inputGradients = 2 * n * C * (C + 2 * I) * c.NumLayers + 2 * n * C * 3 * C * (c.NumLayers - 1);
        double attention = 4 * 2 * n * keys * C * c.NumLayers;
        return Forward(c, batch, seq, prefix) + inputGradients + attention + 2.0 * batch * C * C;
    }
}
