using FastPrefix.IO;
using FastPrefix.Model;
using FastPrefix.Model.Heads;
using FastPrefix.Onnx.Export;
using FastPrefix.Onnx.Import;
using FastPrefix.Tests.Adapters;

namespace FastPrefix.Tests.Onnx;

/// <summary>
/// Export → ONNX Runtime gives FastPrefix's logits, on small random BERT and RoBERTa backbones: every task, both
/// position numberings, an MLP prefix (folded), a prefix that starts above layer 0, and mixed-adapter batches.
/// </summary>
[Trait("Category", "Onnx")]
public class OnnxExportTests
{
    const double Tolerance = 1e-4;

    public static TheoryData<string, TaskKind, PositionMode> TasksAndPositions()
    {
        var data = new TheoryData<string, TaskKind, PositionMode>();
        foreach (var type in new[] { "bert", "roberta" })
            foreach (var kind in Enum.GetValues<TaskKind>())
                foreach (var positions in Enum.GetValues<PositionMode>()) data.Add(type, kind, positions);
        return data;
    }

    [Theory]
    [MemberData(nameof(TasksAndPositions))]
    public void Export_matches_fastprefix(string type, TaskKind kind, PositionMode positions) =>
        AssertParity(type, kind, positions: positions);

    [Theory]
    [InlineData("bert", TaskKind.SequenceClassification)]
    [InlineData("roberta", TaskKind.TokenClassification)]
    [InlineData("bert", TaskKind.MultipleChoice)]
    public void Mlp_prefix_is_folded_into_the_export(string type, TaskKind kind) =>
        AssertParity(type, kind, mlp: true, positions: PositionMode.AfterPrefix);

    [Theory]
    [InlineData("bert", 1, PositionMode.FromZero)]
    [InlineData("bert", 2, PositionMode.AfterPrefix)]
    [InlineData("roberta", 2, PositionMode.FromZero)]
    [InlineData("roberta", 1, PositionMode.AfterPrefix)]
    public void Prefix_depth_leaves_lower_layers_without_prefix(string type, int firstLayer, PositionMode positions) =>
        AssertParity(type, TaskKind.SequenceClassification, firstLayer: firstLayer, positions: positions);

    static void AssertParity(string type, TaskKind kind, bool mlp = false, int firstLayer = 0, PositionMode positions = PositionMode.FromZero)
    {
        using var dir = new TempDir();
        var c = AdapterTestKit.Config(type);
        string backbone = AdapterTestKit.WriteBackbone(dir["backbone"], c);
        using var encoder = AdapterTestKit.LoadEncoder(backbone);
        using var model = OnnxTestKit.SaveAdapter(dir["adapter.safetensors"], backbone, encoder, kind, mlp, firstLayer, positions);
        var result = OnnxExporter.Export(backbone, [dir["adapter.safetensors"]], dir["model.onnx"]);
        Assert.DoesNotContain("adapter_index", result.Inputs);

        var batch = AdapterTestKit.Batch(c, kind);
        var inputs = batch.Inputs;
        long[] shape = kind == TaskKind.MultipleChoice ? [inputs.Batch / batch.Choices, batch.Choices, inputs.Seq] : [inputs.Batch, inputs.Seq];
        var ort = OrtRunner.Run(dir["model.onnx"], OrtRunner.Tokens(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds, shape));
        var got = kind == TaskKind.QuestionAnswering ? OrtRunner.Interleave(ort["start_logits"], ort["end_logits"]) : ort["logits"];
        double error = OrtRunner.RelativeError(got, model.Forward(batch).Logits);
        Assert.True(error < Tolerance, $"{type} {kind} {positions} mlp={mlp} first_layer={firstLayer}: relative error {error:E2}");
    }

    [Theory]
    [InlineData("bert", TaskKind.SequenceClassification)]
    [InlineData("roberta", TaskKind.TokenClassification)]
    [InlineData("bert", TaskKind.QuestionAnswering)]
    [InlineData("roberta", TaskKind.MultipleChoice)]
    public void Several_adapters_serve_a_mixed_batch_by_adapter_index(string type, TaskKind kind)
    {
        using var dir = new TempDir();
        var c = AdapterTestKit.Config(type);
        string backbone = AdapterTestKit.WriteBackbone(dir["backbone"], c);
        using var encoder = AdapterTestKit.LoadEncoder(backbone);
        var paths = Enumerable.Range(0, 3).Select(i => dir[$"adapter{i}.safetensors"]).ToArray();
        // One adapter is an MLP prefix: folding makes it a bank like the others.
        var models = paths.Select((p, i) => OnnxTestKit.SaveAdapter(p, backbone, encoder, kind, mlp: i == 1, positions: PositionMode.AfterPrefix, seed: 100 + 10 * i)).ToList();
        var result = OnnxExporter.Export(backbone, paths, dir["model.onnx"]);
        Assert.Contains("adapter_index", result.Inputs);

        var batch = AdapterTestKit.Batch(c, kind);
        int choices = batch.Choices, examples = batch.Inputs.Batch / choices;
        long[] perExample = Enumerable.Range(0, examples).Select(e => (long)((e + 2) % 3)).ToArray();
        var rows = Enumerable.Range(0, batch.Inputs.Batch).Select(r => (int)perExample[r / choices]).ToArray();
        var inputs = new EncoderBatch(batch.Inputs.Batch, batch.Inputs.Seq, batch.Inputs.InputIds, batch.Inputs.AttentionMask, batch.Inputs.TokenTypeIds, rows);
        long[] shape = choices > 1 ? [examples, choices, inputs.Seq] : [inputs.Batch, inputs.Seq];
        var ort = OrtRunner.Run(dir["model.onnx"], [.. OrtRunner.Tokens(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds, shape),
            new OrtRunner.Input("adapter_index", perExample, [examples])]);
        var got = kind == TaskKind.QuestionAnswering ? OrtRunner.Interleave(ort["start_logits"], ort["end_logits"]) : ort["logits"];
        double error = OrtRunner.RelativeError(got, OnnxTestKit.MixedLogits(models, inputs, choices));
        Assert.True(error < Tolerance, $"{type} {kind} mixed: relative error {error:E2}");
        foreach (var m in models) m.Dispose();
    }

    [Theory]
    [InlineData("bert")]
    [InlineData("roberta")]
    public void Backbone_export_matches_the_encoder_and_imports_back_to_the_same_checkpoint(string type)
    {
        using var dir = new TempDir();
        var c = AdapterTestKit.Config(type);
        string backbone = AdapterTestKit.WriteBackbone(dir["backbone"], c);
        var result = OnnxExporter.Export(backbone, [], dir["model.onnx"]);
        Assert.Equal(["last_hidden_state", "pooler_output"], result.Outputs);

        var inputs = AdapterTestKit.Batch(c, TaskKind.SequenceClassification).Inputs;
        var ort = OrtRunner.Run(dir["model.onnx"], OrtRunner.Tokens(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds, inputs.Batch, inputs.Seq));
        using (var encoder = AdapterTestKit.LoadEncoder(backbone))
        {
            encoder.Forward(inputs, null, new EncoderPassOptions { ComputePooled = true });
            var hidden = new float[inputs.Rows * c.HiddenSize]; encoder.Backend.Download(encoder.Hidden, hidden);
            var pooled = new float[inputs.Batch * c.HiddenSize]; encoder.Backend.Download(encoder.Pooled, pooled);
            Assert.True(OrtRunner.RelativeError(ort["last_hidden_state"], hidden) < Tolerance);
            Assert.True(OrtRunner.RelativeError(ort["pooler_output"], pooled) < Tolerance);
        }

        // The exported graph (fused query/key/value + Split, LayerNormalization ops) is itself an encoder the importer reads.
        WriteVocab(dir.Path, c);
        var imported = OnnxImporter.Import(dir["model.onnx"], dir["imported"]);
        Assert.Equal(c.ToCanonicalJson(), imported.Config.ToCanonicalJson());
        using var original = SafetensorsFile.Open(Path.Combine(backbone, "model.safetensors"));
        using var back = SafetensorsFile.Open(Path.Combine(dir["imported"], "model.safetensors"));
        Assert.Equal(original.Tensors.Count, back.Tensors.Count);
        foreach (var t in original.Tensors)
            Assert.Equal(original.ReadFloat32(t.Name), back.ReadFloat32(t.Name[(type.Length + 1)..]));
    }

    /// <summary>
    /// Tokenizer files of exactly vocab_size entries beside an exported model: a WordPiece vocab.txt for BERT ([PAD] = 0),
    /// a byte-level BPE vocab.json + merges.txt for RoBERTa (&lt;pad&gt; = 1, the padding index its positions count from).
    /// </summary>
    internal static void WriteVocab(string folder, EncoderConfig c)
    {
        if (!c.IsRoberta)
        {
            File.WriteAllLines(Path.Combine(folder, "vocab.txt"),
                new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" }.Concat(Enumerable.Range(0, c.VocabSize - 5).Select(i => "w" + i)));
            return;
        }
        var words = new[] { "<s>", "<pad>", "</s>", "<unk>", "<mask>" }.Concat(Enumerable.Range(0, c.VocabSize - 5).Select(i => "w" + i));
        File.WriteAllText(Path.Combine(folder, "vocab.json"), System.Text.Json.JsonSerializer.Serialize(words.Select((w, i) => (w, i)).ToDictionary(x => x.w, x => x.i)));
        File.WriteAllText(Path.Combine(folder, "merges.txt"), "#version: 0.2\n");
    }

    [Fact]
    public void Cli_exports_several_adapters_and_refuses_adapters_of_different_tasks()
    {
        using var dir = new TempDir();
        var c = AdapterTestKit.Config();
        string backbone = AdapterTestKit.WriteBackbone(dir["backbone"], c);
        using var encoder = AdapterTestKit.LoadEncoder(backbone);
        OnnxTestKit.SaveAdapter(dir["a.safetensors"], backbone, encoder, TaskKind.SequenceClassification).Dispose();
        OnnxTestKit.SaveAdapter(dir["b.safetensors"], backbone, encoder, TaskKind.SequenceClassification, seed: 7).Dispose();
        OnnxTestKit.SaveAdapter(dir["t.safetensors"], backbone, encoder, TaskKind.TokenClassification).Dispose();

        var ok = CliRunner.Run("export", "onnx", "--model", backbone, "--adapter", dir["a.safetensors"], "--adapter", dir["b.safetensors"], "--output", dir["m"]);
        Assert.True(ok.ExitCode == 0, ok.StdErr);
        Assert.Contains("adapter_index", ok.StdOut);
        Assert.True(File.Exists(dir["m/model.onnx"]));

        var mixed = CliRunner.Run("export", "onnx", "--model", backbone, "--adapter", dir["a.safetensors"], "--adapter", dir["t.safetensors"], "--output", dir["x"]);
        Assert.Equal(2, mixed.ExitCode);
        Assert.Contains("t.safetensors: the task is tokcls", mixed.StdErr);
        Assert.False(Directory.Exists(dir["x"]));   // refused before anything is written

        var missing = CliRunner.Run("export", "onnx", "--model", backbone, "--adapter", dir["nope.safetensors"], "--output", dir["x"]);
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("nope.safetensors", missing.StdErr);
    }
}
