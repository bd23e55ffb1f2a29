using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using FastPrefix.Adapters;
using FastPrefix.Backends.Cpu;
using FastPrefix.Inference;
using FastPrefix.IO;
using FastPrefix.Model;
using FastPrefix.Model.Heads;
using FastPrefix.Serving;
using Microsoft.AspNetCore.Builder;

namespace FastPrefix.Bench;

/// <summary>
/// `serve-load`: a bounded loopback load generator against `fastprefix serve`'s server (in process, 127.0.0.1, a free
/// port). N closed-loop clients spread over K adapters each send one record, wait for the answer, and send the next,
/// for a fixed time and at most a fixed number of requests. Rounds alternate mixed-adapter batching and
/// one-adapter-per-pass batching (what PEFT allows for prefix tuning) on the same backbone, records and seed. A last
/// round goes past the overload point (a queue of one pass, 4 × as many clients) and checks that every refused request got 503.
/// </summary>
public static class ServeLoad
{
    sealed record Options(int Clients, int Adapters, double Seconds, int Rounds, int MaxBatchRows, double MaxWaitMs, int MaxRequestsPerClient, string Device);

    sealed record Round(string Mode, long Requests, long Ok, long Overloaded, long OtherFailures, double Seconds, double[] LatenciesMs, HostStatistics Stats);

    public static void Run(string[] args)
    {
        var o = new Options(Clients: Arg(args, "--clients", 32), Adapters: Arg(args, "--adapters", 4), Seconds: Arg(args, "--seconds", 8.0),
            Rounds: Arg(args, "--rounds", 3), MaxBatchRows: Arg(args, "--max-batch-rows", 32), MaxWaitMs: Arg(args, "--max-wait-ms", 5.0),
            MaxRequestsPerClient: Arg(args, "--max-requests", 20_000),
            Device: Array.IndexOf(args, "--device") is int d and >= 0 && d + 1 < args.Length ? args[d + 1] : "cpu");
        string dir = Path.Combine(Path.GetTempPath(), "fastprefix-serve-load-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (model, adapters) = WriteModelAndAdapters(dir, o.Adapters);
            var records = Records(seed: 7, count: 512);
            Console.WriteLine($"# serve-load: device {o.Device}, {o.Clients} clients, {o.Adapters} adapters, {o.Seconds} s per round, {o.Rounds} rounds per mode, " +
                              $"max batch {o.MaxBatchRows} rows, max wait {o.MaxWaitMs} ms; {Environment.ProcessorCount} cores, load average {LoadAverage()}");
            var results = new List<Round>();
            for (int r = 0; r < o.Rounds; r++)
                foreach (var mode in new[] { BatchingMode.MixedAdapters, BatchingMode.OneAdapterPerPass })
                {
                    var round = RunRound(model, adapters, records, mode, o, queue: 4096, clients: o.Clients, seconds: o.Seconds).GetAwaiter().GetResult();
                    results.Add(round);
                    Console.WriteLine(Row(round, o.MaxBatchRows));
                }
            Console.WriteLine();
            Console.WriteLine("| batching | rounds | records/s (each round) | p50 ms | p99 ms | batch fill | adapters/pass | failed |");
            Console.WriteLine("|---|---:|---|---:|---:|---:|---:|---:|");
            foreach (var g in results.GroupBy(r => r.Mode))
            {
                var lat = g.SelectMany(r => r.LatenciesMs).Order().ToArray();
                var s = g.Select(r => r.Stats).ToArray();
                double fill = s.Sum(x => (double)x.Rows) / s.Sum(x => x.Passes) / o.MaxBatchRows;
                Console.WriteLine($"| {g.Key} | {g.Count()} | {string.Join(" / ", g.Select(r => (r.Ok / r.Seconds).ToString("0")))} | {Pct(lat, 0.5):0.0} | {Pct(lat, 0.99):0.0} | " +
                                  $"{fill:P0} | {s.Sum(x => (double)x.PassAdapters) / s.Sum(x => x.Passes):0.00} | {g.Sum(r => r.Overloaded + r.OtherFailures)} |");
            }
            PassCost(model, adapters, o.MaxBatchRows, o.Adapters, o.Device);
            // Past the overload point: a queue of one pass (max batch rows) and 4 times as many clients, so most arrive to a full queue.
            int overQueue = o.MaxBatchRows, overClients = 4 * o.MaxBatchRows;
            var over = RunRound(model, adapters, records, BatchingMode.MixedAdapters, o, queue: overQueue, clients: overClients, seconds: o.Seconds / 2)
                .GetAwaiter().GetResult();
            Console.WriteLine();
            Console.WriteLine($"overload round ({overClients} clients, queue {overQueue} records): {over.Requests} requests, {over.Ok} answered, " +
                              $"{over.Overloaded} refused with 503 overloaded, {over.OtherFailures} other failures or lost");
            if (results.Any(r => r.Overloaded + r.OtherFailures > 0) || over.OtherFailures > 0)
            {
                Console.WriteLine("FAILED: requests failed below the overload point, or failed other than with 503 above it");
                Environment.ExitCode = 1;
            }
        }
        finally { try { Directory.Delete(dir, true); } catch (IOException) { } }
    }

    static async Task<Round> RunRound(string model, IReadOnlyList<string> adapters, string[] records, BatchingMode mode, Options o, int queue, int clients, double seconds)
    {
        await using var host = AdapterHost.Open(model, new AdapterHostOptions
        {
            Device = o.Device, Batching = mode, MaxBatchRows = o.MaxBatchRows, MaxWait = TimeSpan.FromMilliseconds(o.MaxWaitMs), MaxQueuedRecords = queue,
        });
        for (int a = 0; a < adapters.Count; a++) await host.LoadAsync("a" + a, adapters[a]);
        var app = FastPrefixServer.Create(host, new ServerOptions { Port = 0 });
        await app.StartAsync();
        try
        {
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clients }) { BaseAddress = FastPrefixServer.Address(app), Timeout = TimeSpan.FromSeconds(60) };
            await RunClients(http, adapters.Count, records, clients, TimeSpan.FromSeconds(1), o.MaxRequestsPerClient, seed: 1);   // warm-up
            var before = host.Statistics;
            var sw = Stopwatch.StartNew();
            var counts = await RunClients(http, adapters.Count, records, clients, TimeSpan.FromSeconds(seconds), o.MaxRequestsPerClient, seed: 2);
            double elapsed = sw.Elapsed.TotalSeconds;
            var after = host.Statistics;
            var stats = new HostStatistics(after.Passes - before.Passes, after.Rows - before.Rows, after.PassAdapters - before.PassAdapters,
                after.Completed - before.Completed, after.Overloaded - before.Overloaded, after.DeadlineExceeded - before.DeadlineExceeded,
                after.Cancelled - before.Cancelled, after.Failed - before.Failed, o.MaxBatchRows);
            return new Round(mode == BatchingMode.MixedAdapters ? "mixed adapters" : "one adapter per pass", counts.Requests, counts.Ok, counts.Overloaded,
                counts.Other, elapsed, counts.Latencies, stats);
        }
        finally { await app.StopAsync(); await app.DisposeAsync(); }
    }

    /// <summary>
    /// The engine alone, no HTTP: one pass of MaxBatchRows rows spread over K adapters, the same rows with one adapter,
    /// and K passes of MaxBatchRows / K rows (one adapter each), alternated, best of 5 after a warm-up.
    /// </summary>
    static void PassCost(string model, IReadOnlyList<string> paths, int rows, int k, string device)
    {
        using var engine = new HostEngine(model, device, null);
        var adapters = paths.Select(p => engine.Load(AdapterFile.Read(p), null)).ToArray();
        var tokenizer = FastPrefix.Data.Tokenization.TokenizerFactory.FromFolder(model);
        var encoded = Records(seed: 9, count: rows).Select(r => { var e = tokenizer.Encode(r, null, 64); return new FastPrefix.Data.Features.EncodedRow(e.InputIds, e.TokenTypeIds!); }).ToArray();
        var owner = Enumerable.Range(0, rows).Select(i => i % k).ToArray();
        var cases = new (string Name, Action Run)[]
        {
            ($"1 pass, {rows} rows of {k} adapters", () => engine.Run(adapters, encoded, owner, tokenizer.PadId)),
            ($"1 pass, {rows} rows of 1 adapter", () => engine.Run([adapters[0]], encoded, new int[rows], tokenizer.PadId)),
            ($"{k} passes of {rows / k} rows, 1 adapter each", () =>
            {
                for (int a = 0; a < k; a++) engine.Run([adapters[a]], encoded.Where((_, j) => owner[j] == a).ToArray(), new int[rows / k], tokenizer.PadId);
            }),
        };
        var best = new double[cases.Length];
        Array.Fill(best, double.MaxValue);
        for (int round = 0; round < 6; round++)
            for (int c = 0; c < cases.Length; c++)
            {
                var sw = Stopwatch.StartNew();
                cases[c].Run();
                if (round > 0) best[c] = Math.Min(best[c], sw.Elapsed.TotalMilliseconds);
            }
        Console.WriteLine();
        Console.WriteLine($"engine alone (no HTTP), best of 5, load average {LoadAverage()}:");
        for (int c = 0; c < cases.Length; c++) Console.WriteLine($"  {cases[c].Name,-40} {best[c],7:0.0} ms");
        foreach (var a in adapters) engine.Release(a);
    }

    sealed record Counts(long Requests, long Ok, long Overloaded, long Other, double[] Latencies);

    /// <summary>Closed-loop clients, each on its own adapter sequence (seeded); stops at the deadline or the request cap.</summary>
    static async Task<Counts> RunClients(HttpClient http, int adapters, string[] records, int clients, TimeSpan duration, int maxRequests, int seed)
    {
        long ok = 0, overloaded = 0, other = 0, requests = 0;
        var latencies = new List<double>[clients];
        var stop = DateTime.UtcNow + duration;
        var tasks = Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            var rng = new Random(seed * 1000 + c);
            var mine = latencies[c] = [];
            for (int n = 0; n < maxRequests && DateTime.UtcNow < stop; n++)
            {
                string body = $"{{\"items\": [{{\"adapter\": \"a{rng.Next(adapters)}\", \"input\": {{\"sentence\": {JsonSerializer.Serialize(records[rng.Next(records.Length)])}}}}}]}}";
                long start = Stopwatch.GetTimestamp();
                Interlocked.Increment(ref requests);
                try
                {
                    using var response = await http.PostAsync("/v1/predict", new StringContent(body, Encoding.UTF8, "application/json"));
                    string text = await response.Content.ReadAsStringAsync();
                    if (response.StatusCode == HttpStatusCode.OK && text.StartsWith("{\"results\":[{\"label\"", StringComparison.Ordinal))
                    {
                        Interlocked.Increment(ref ok);
                        mine.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                    }
                    else if (response.StatusCode == HttpStatusCode.ServiceUnavailable && text.Contains("\"overloaded\"")) Interlocked.Increment(ref overloaded);
                    else Interlocked.Increment(ref other);
                }
                catch (HttpRequestException) { Interlocked.Increment(ref other); }
            }
        })).ToArray();
        await Task.WhenAll(tasks);
        return new Counts(requests, ok, overloaded, other, latencies.SelectMany(l => l).ToArray());
    }

    /// <summary>A random BERT of BERT-mini's shape (4 layers, hidden 256) with a 1,000-word vocabulary, and K seqcls adapters (prefix 16).</summary>
    static (string Model, IReadOnlyList<string> Adapters) WriteModelAndAdapters(string dir, int count)
    {
        string model = Path.Combine(dir, "model");
        Directory.CreateDirectory(model);
        var vocab = new List<string> { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" };
        vocab.AddRange(Words);
        var config = new EncoderConfig
        {
            ModelType = "bert", VocabSize = vocab.Count, HiddenSize = 256, NumLayers = 4, NumHeads = 4, IntermediateSize = 1024,
            MaxPositionEmbeddings = 512, TypeVocabSize = 2, LayerNormEps = 1e-12f, HiddenDropout = 0.1f, AttentionDropout = 0.1f,
        };
        File.WriteAllLines(Path.Combine(model, "vocab.txt"), vocab);
        File.WriteAllText(ModelFolder.ConfigPath(model), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["model_type"] = "bert", ["vocab_size"] = config.VocabSize, ["hidden_size"] = config.HiddenSize, ["num_hidden_layers"] = config.NumLayers,
            ["num_attention_heads"] = config.NumHeads, ["intermediate_size"] = config.IntermediateSize, ["max_position_embeddings"] = config.MaxPositionEmbeddings,
            ["type_vocab_size"] = 2, ["layer_norm_eps"] = 1e-12, ["hidden_dropout_prob"] = 0.1, ["attention_probs_dropout_prob"] = 0.1,
        }));
        var ckpt = new SyntheticCheckpoint(config, seed: 1, namePrefix: "bert.");
        SafetensorsWriter.Write(ModelFolder.WeightsPath(model), ckpt.Names.Order(StringComparer.Ordinal).Select(n => SafetensorsEntry.FromFloat32(n, ckpt.ReadFloat32(n), ckpt.GetShape(n))));

        string fingerprint = BackboneFingerprint.OfFolder(model);
        var paths = new List<string>();
        using var backend = new CpuBackend();
        using var weights = ModelFolder.LoadWeights(backend, model);
        for (int a = 0; a < count; a++)
        {
            using var m = new PTuningModel(new FastPrefix.Model.Encoder(backend, weights), new PlainPrefix(backend, config, 16),
                TaskHead.Create(TaskKind.SequenceClassification, backend, config, 2));
            var rng = new Random(100 + a);
            foreach (var p in m.Parameters) p.Upload(Enumerable.Range(0, (int)p.Length).Select(_ => (float)(0.5 * SyntheticCheckpoint.Gaussian(rng))).ToArray());
            string path = Path.Combine(dir, $"a{a}.safetensors");
            AdapterFile.Save(path, m, AdapterMetadata.FromModel(m, ["neg", "pos"], fingerprint, 64, "wordpiece"));
            paths.Add(path);
        }
        return (model, paths);
    }

    static readonly string[] Words = Enumerable.Range(0, 1000).Select(i => "w" + i).ToArray();

    /// <summary>Sentences of 6 to 40 words (8 to 42 tokens).</summary>
    static string[] Records(int seed, int count)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => string.Join(' ', Enumerable.Range(0, rng.Next(6, 41)).Select(_ => Words[rng.Next(Words.Length)]))).ToArray();
    }

    static string Row(Round r, int maxRows)
    {
        var lat = r.LatenciesMs.Order().ToArray();
        return $"{r.Mode,-22} {r.Ok / r.Seconds,8:0} records/s  p50 {Pct(lat, 0.5),7:0.0} ms  p99 {Pct(lat, 0.99),7:0.0} ms  fill {r.Stats.BatchFill,5:P0}  " +
               $"adapters/pass {r.Stats.AdaptersPerPass:0.00}  passes {r.Stats.Passes}  failed {r.Overloaded + r.OtherFailures}  (load {LoadAverage()})";
    }

    static double Pct(double[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];

    static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";

    static T Arg<T>(string[] args, string name, T fallback) where T : IParsable<T>
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? T.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) : fallback;
    }
}
