using System.Text.Json;
using FastPrefix.Backends.Cuda;
using FastPrefix.Cli;
using FastPrefix.Kernels.Device;

namespace FastPrefix.Tests.Cli;

/// <summary>
/// --device and --precision through the real program: train → eval → predict on the simulated GPU gives what the CPU
/// gives; mistakes exit 2 with one line naming the option; out of device memory exits 2 saying what was asked and
/// what was free; `fastprefix bench` prints its measurements on every device.
/// </summary>
public class DeviceOptionTests
{
    readonly string _model = CliModelFolder.Create();
    readonly string _dir = TestPaths.NewTempDir();

    string P(string name) => Path.Combine(_dir, name);

    static CliRunner.Result Ok(params string[] args) => CliRunner.Succeeds(args);

    static void OneLineExit2(CliRunner.Result r, params string[] expected)
    {
        Assert.True(r.ExitCode == 2, $"exit {r.ExitCode}: {r.StdErr}");
        var lines = r.StdErr.Trim().Split('\n');
        Assert.StartsWith("error: ", lines[^1]);
        foreach (var e in expected) Assert.Contains(e, r.StdErr);
    }

    [Fact]
    public void Train_eval_and_predict_on_the_simulated_gpu_match_the_cpu()
    {
        GpuBackends.Open("cuda-sim").Dispose();   // skips without a host C++ compiler
        File.WriteAllLines(P("train.jsonl"), Enumerable.Range(0, 16).Select(i => JsonSerializer.Serialize(
            i % 2 == 0 ? new { sentence = "the film was good", label = "pos" } : new { sentence = "the book was awful", label = "neg" })));
        File.WriteAllLines(P("in.jsonl"), [JsonSerializer.Serialize(new { sentence = "good film" }), JsonSerializer.Serialize(new { sentence = "awful book" })]);
        string maxLen = CliModelFolder.MaxLen(_model).ToString();
        var results = new Dictionary<string, (string Eval, string[] Predictions)>();
        foreach (var device in new[] { "cpu", "cuda-sim" })
        {
            var t = Ok("train", "--model", _model, "--task", "seqcls", "--train", P("train.jsonl"), "--output", P(device), "--epochs", "2",
                "--batch-size", "4", "--prefix-len", "3", "--max-seq-length", maxLen, "--device", device, "--hidden-dropout", "0",
                "--attention-dropout", "0", "--prefix-dropout", "0");
            if (device == "cuda-sim") Assert.Contains("running on cuda-sim", t.StdErr);
            var e = Ok("eval", "--model", _model, "--adapter", P(device), "--data", P("train.jsonl"), "--device", device);
            var p = Ok("predict", "--model", _model, "--adapter", P(device), "--data", P("in.jsonl"), "--device", device);
            results[device] = (e.StdOut.Trim().Split('\n')[^1], p.StdOut.Trim().Split('\n'));
        }
        Assert.Equal(results["cpu"].Eval, results["cuda-sim"].Eval);   // metrics rounded to 6 digits: the same
        for (int i = 0; i < 2; i++)
        {
            var cpu = JsonDocument.Parse(results["cpu"].Predictions[i]).RootElement;
            var sim = JsonDocument.Parse(results["cuda-sim"].Predictions[i]).RootElement;
            Assert.Equal(cpu.GetProperty("label").GetString(), sim.GetProperty("label").GetString());
            foreach (var score in cpu.GetProperty("scores").EnumerateObject())
                Assert.Equal(score.Value.GetDouble(), sim.GetProperty("scores").GetProperty(score.Name).GetDouble(), 4);
        }
    }

    [Fact]
    public void Device_and_precision_mistakes_exit_2_naming_the_option()
    {
        File.WriteAllLines(P("t.jsonl"), ["{\"sentence\": \"a\", \"label\": 0}", "{\"sentence\": \"b\", \"label\": 1}"]);
        string[] Train(params string[] extra) => ["train", "--model", _model, "--task", "seqcls", "--train", P("t.jsonl"), "--output", P("o"), .. extra];
        OneLineExit2(CliRunner.Run(Train("--device", "cpu", "--precision", "bf16")), "--precision bf16", "fp32");
        Assert.Equal(2, CliRunner.Run(Train("--precision", "fp16")).ExitCode);
        Assert.Equal(2, CliRunner.Run(Train("--device", "gpu")).ExitCode);
        if (!CudaProbe.Probe().IsAvailable)
            OneLineExit2(CliRunner.Run(Train("--device", "cuda")), "--device cuda: no usable CUDA device", CudaProbe.Probe().Reason.Split(':')[0]);
        Assert.Contains("cuda-sim", CliRunner.Run("train", "--help").StdOut);
        Assert.Contains("--precision", CliRunner.Run("predict", "--help").StdOut);
    }

    [Fact]
    public void Out_of_device_memory_exits_2_with_the_bytes_asked_and_free()
    {
        var errors = new StringWriter();
        int code = CliErrors.Run(() => throw new DeviceOutOfMemoryException("NVIDIA H200", 3L << 30, 1L << 30, 140L << 30), errors);
        Assert.Equal(2, code);
        Assert.Contains("out of memory allocating 3 GiB (3221225472 bytes); 1 GiB free of 140 GiB", errors.ToString());
        Assert.Contains("--batch-size", errors.ToString());

        // the device raises it, and the backend lets it through unchanged
        GpuBackends.Open("cuda-sim").Dispose();
        using var backend = new CudaBackend(new SimDevice(options: new SimDeviceOptions { MemoryBytes = 1 << 20 }), ownsDevice: true);
        var e = Assert.Throws<DeviceOutOfMemoryException>(() => backend.Allocate(FastPrefix.Backends.TensorType.Float32, 1 << 19));
        Assert.Equal(2L << 20, e.RequestedBytes);
        Assert.True(e.FreeBytes <= 1 << 20);
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("cuda-sim")]
    public void Bench_prints_step_times_tokens_flops_and_peak_memory(string device)
    {
        if (device == "cuda-sim") GpuBackends.Open(device).Dispose();
        var r = Ok("bench", "--shape", "custom", "--layers", "2", "--hidden", "64", "--heads", "2", "--batch", "3", "--seq", "21", "--prefix", "4",
            "--steps", "3", "--warmup", "1", "--device", device, "--json");
        var json = r.StdOut.Split('\n').Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["train", "infer"], json.Select(j => j.GetProperty("mode").GetString()));
        Assert.Equal(device == "cuda-sim", json[0].GetProperty("graphs").GetBoolean());   // training steps replayed as graphs where the backend records
        foreach (var j in json)
        {
            Assert.True(j.GetProperty("ms_median").GetDouble() > 0 && j.GetProperty("ms_p90").GetDouble() >= j.GetProperty("ms_median").GetDouble());
            Assert.True(j.GetProperty("tokens_per_s").GetDouble() > 0 && j.GetProperty("tflops").GetDouble() >= 0);
            Assert.True(j.GetProperty("peak_bytes").GetInt64() > 0);
        }
        Assert.Contains("ms/step median", r.StdOut);
        var inferOnly = Ok("bench", "--shape", "custom", "--layers", "1", "--hidden", "32", "--heads", "2", "--batch", "2", "--seq", "8",
            "--steps", "1", "--warmup", "1", "--infer", "--device", device);
        var lines = inferOnly.StdOut.Split('\n');
        Assert.Contains(lines, l => l.StartsWith(device == "cpu" ? "infer:" : "infer (graphs on: one graph of ", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.StartsWith("train", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("cuda-sim")]
    public void Bench_profile_says_where_a_step_goes(string device)
    {
        if (device == "cuda-sim") GpuBackends.Open(device).Dispose();
        var r = Ok("bench", "--shape", "custom", "--layers", "2", "--hidden", "64", "--heads", "2", "--batch", "3", "--seq", "21", "--prefix", "4",
            "--steps", "2", "--warmup", "1", "--device", device, "--profile", "--json");
        Assert.Contains(device == "cpu" ? "train profile (wall time per step" : "train profile (device time per step", r.StdOut);
        var profiles = r.StdOut.Split('\n').Where(l => l.StartsWith("{\"profile\"", StringComparison.Ordinal)).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["train", "infer"], profiles.Select(p => p.GetProperty("profile").GetString()));
        foreach (var p in profiles)
        {
            var ops = p.GetProperty("ops_ms").EnumerateObject().ToDictionary(o => o.Name, o => o.Value.GetDouble());
            Assert.True(ops["Gemm"] > 0 && ops["Attention"] > 0 && ops["ResidualLayerNorm"] > 0, string.Join(", ", ops));
            Assert.True(ops.Values.Sum() <= p.GetProperty("step_ms").GetDouble() * 1.05, "the ops take longer than the step");
        }
        Assert.Contains("AttentionBackward", profiles[0].GetProperty("ops_ms").EnumerateObject().Select(o => o.Name));
    }

    [Fact]
    public void Bench_mistakes_exit_2()
    {
        OneLineExit2(CliRunner.Run("bench", "--shape", "custom", "--hidden", "64", "--heads", "2", "--device", "cpu"), "--shape custom needs --layers");
        OneLineExit2(CliRunner.Run("bench", "--shape", "custom", "--layers", "1", "--hidden", "65", "--heads", "2", "--device", "cpu"), "--hidden 65", "--heads 2");
        OneLineExit2(CliRunner.Run("bench", "--shape", "bert-base", "--layers", "3", "--device", "cpu"), "--shape custom");
        OneLineExit2(CliRunner.Run("bench", "--shape", "custom", "--layers", "1", "--hidden", "32", "--heads", "2", "--steps", "0", "--device", "cpu"), "--steps");
    }
}
