using System.Text.Json;
using FastPrefix.IO;
using FastPrefix.Model;

namespace FastPrefix.Tests.Cli;

/// <summary>
/// The RoBERTa path end to end: a synthetic RoBERTa backbone (odd head count, "roberta." names, type_vocab_size 1,
/// padding_idx positions) with the real roberta-base BPE files of the tokenizer fixture, through train → eval → predict.
/// </summary>
public class RobertaEndToEndTests
{
    static string TokenizerFolder() => TestPaths.RequireFixturesWith("merges.txt")[0];

    static string CreateModel(string tokenizerDir)
    {
        int vocab = JsonDocument.Parse(File.ReadAllText(Path.Combine(tokenizerDir, "vocab.json"))).RootElement.EnumerateObject().Max(p => p.Value.GetInt32()) + 1;
        var config = new EncoderConfig
        {
            ModelType = "roberta", VocabSize = vocab, HiddenSize = 36, NumLayers = 2, NumHeads = 3, IntermediateSize = 40,
            MaxPositionEmbeddings = 40, TypeVocabSize = 1, PadTokenId = 1, LayerNormEps = 1e-5f, HiddenDropout = 0.1f, AttentionDropout = 0.1f,
        };
        string dir = TestPaths.NewTempDir();
        File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["model_type"] = "roberta", ["vocab_size"] = vocab, ["hidden_size"] = 36, ["num_hidden_layers"] = 2, ["num_attention_heads"] = 3,
            ["intermediate_size"] = 40, ["max_position_embeddings"] = 40, ["type_vocab_size"] = 1, ["pad_token_id"] = 1, ["layer_norm_eps"] = 1e-5,
        }));
        var w = new SyntheticCheckpoint(config, seed: 9, std: 0.3f, namePrefix: "roberta.");
        SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"), w.Names.Select(n => SafetensorsEntry.FromFloat32(n, w.ReadFloat32(n), w.GetShape(n))));
        foreach (var f in new[] { "vocab.json", "merges.txt", "tokenizer_config.json" })
            if (File.Exists(Path.Combine(tokenizerDir, f))) File.Copy(Path.Combine(tokenizerDir, f), Path.Combine(dir, f));
        return dir;
    }

    [Fact]
    public void Pair_classification_on_a_roberta_backbone()
    {
        var tok = TokenizerFolder();
        string model = CreateModel(tok), dir = TestPaths.NewTempDir();
        var rows = Enumerable.Range(0, 12).Select(i => JsonSerializer.Serialize(new { premise = "A man plays the guitar.", hypothesis = i % 2 == 0 ? "Someone makes music." : "Nobody is there.", label = i % 2 == 0 ? "entailment" : "contradiction" }));
        File.WriteAllLines(Path.Combine(dir, "rte.jsonl"), rows);
        var r = CliRunner.Run("train", "--model", model, "--task", "seqcls", "--train", Path.Combine(dir, "rte.jsonl"), "--eval", Path.Combine(dir, "rte.jsonl"),
            "--output", Path.Combine(dir, "run"), "--epochs", "1", "--batch-size", "4", "--prefix-len", "5", "--max-seq-length", "24", "--device", "cpu",
            "--positions", "after-prefix");
        Assert.True(r.ExitCode == 0, r.StdErr + r.StdOut);
        var e = CliRunner.Run("eval", "--model", model, "--adapter", Path.Combine(dir, "run", "adapter.safetensors"), "--data", Path.Combine(dir, "rte.jsonl"));
        Assert.True(e.ExitCode == 0, e.StdErr);
        Assert.InRange(JsonDocument.Parse(e.StdOut.Trim().Split('\n')[^1]).RootElement.GetProperty("accuracy").GetDouble(), 0, 1);
        var p = CliRunner.Run("predict", "--model", model, "--adapter", Path.Combine(dir, "run", "adapter.safetensors"), "--data", Path.Combine(dir, "rte.jsonl"));
        Assert.Equal(0, p.ExitCode);
        Assert.Equal(12, p.StdOut.Trim().Split('\n').Length);
    }
}
