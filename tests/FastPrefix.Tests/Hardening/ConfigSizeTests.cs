using System.Text.Json.Nodes;
using FastPrefix.Backends.Cpu;
using FastPrefix.Model;

namespace FastPrefix.Tests.Hardening;

/// <summary>
/// A config that does not match its weights is checked against the safetensors header before anything is allocated;
/// sizes are computed in checked 64-bit arithmetic (hidden_size 26756 was an OverflowException, 26752 an 8.6 GB allocation).
/// </summary>
public class ConfigSizeTests
{
    static string FolderWithHiddenSize(int hidden)
    {
        string fixture = TestPaths.Fixture("tiny-bert-a"), dir = TestPaths.NewTempDir();
        File.Copy(Path.Combine(fixture, "model.safetensors"), Path.Combine(dir, "model.safetensors"));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(fixture, "config.json")))!.AsObject();
        config["hidden_size"] = hidden;
        config["num_attention_heads"] = 4;
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        return dir;
    }

    [Theory]
    [InlineData(26756)]
    [InlineData(26752)]
    public void A_config_larger_than_its_weights_is_refused_before_allocating(int hidden)
    {
        string dir = FolderWithHiddenSize(hidden);
        using var backend = new CpuBackend();
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ModelFormatException>(() => ModelFolder.LoadWeights(backend, dir));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("model.safetensors: tensor 'bert.embeddings.word_embeddings.weight' has shape", e.Message);
        Assert.Contains($"{hidden}] ([vocab_size, hidden_size] of the config)", e.Message);
        Assert.True(allocated < 16 << 20, $"{allocated:N0} bytes allocated before the error");
    }

    /// <summary>Shapes that match a huge config, with no data behind them: the size check must fire before any read.</summary>
    sealed class HeaderOnly(EncoderConfig c) : ITensorSource
    {
        readonly Dictionary<string, long[]> _shapes = CheckpointLayout.Tensors(c, new CheckpointNames(new Stub())).ToDictionary(t => t.Name, t => t.Shape);
        public string SourceName => "huge.safetensors";
        public IEnumerable<string> Names => _shapes.Keys;
        public bool Contains(string name) => _shapes.ContainsKey(name);
        public long[] GetShape(string name) => _shapes[name];
        public float[] ReadFloat32(string name) => throw new InvalidOperationException($"read '{name}' before the sizes were checked");

        sealed class Stub : ITensorSource
        {
            public string SourceName => "";
            public IEnumerable<string> Names => ["embeddings.word_embeddings.weight"];
            public bool Contains(string name) => name == "embeddings.word_embeddings.weight";
            public long[] GetShape(string name) => [];
            public float[] ReadFloat32(string name) => [];
        }
    }

    [Fact]
    public void A_matching_but_oversized_checkpoint_is_a_format_error_not_an_overflow()
    {
        var c = new EncoderConfig { ModelType = "bert", VocabSize = 10, HiddenSize = 26756, NumLayers = 1, NumHeads = 4, IntermediateSize = 8, MaxPositionEmbeddings = 8 };
        using var backend = new CpuBackend();
        var e = Assert.Throws<ModelFormatException>(() => EncoderWeights.Load(backend, c, new HeaderOnly(c)));
        Assert.Contains($"hidden_size 26756 needs a fused query/key/value matrix of {3L * 26756 * 26756:N0} values", e.Message);
    }

    [Fact]
    public void Through_the_cli_it_is_exit_2_with_one_line()
    {
        string dir = FolderWithHiddenSize(26756), data = Path.Combine(dir, "t.jsonl");
        File.WriteAllLines(data, ["{\"sentence\": \"a\", \"label\": \"x\"}", "{\"sentence\": \"b\", \"label\": \"y\"}"]);
        File.WriteAllLines(Path.Combine(dir, "vocab.txt"), ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "b"]);
        var r = CliRunner.Run("train", "--model", dir, "--task", "seqcls", "--train", data, "--output", Path.Combine(dir, "run"), "--device", "cpu", "--max-seq-length", "8");
        Assert.Equal(2, r.ExitCode);
        Assert.Single(r.StdErr.Trim().Split('\n'));
        Assert.Contains("word_embeddings.weight' has shape", r.StdErr);
    }
}
