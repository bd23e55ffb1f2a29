using System.Text.Json;
using Google.Protobuf;
using Onnx;
using FastPrefix.Adapters;
using FastPrefix.Backends.Cpu;
using FastPrefix.Model;
using FastPrefix.Model.Heads;
using static FastPrefix.Onnx.Export.GraphBuilder;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FastPrefix.Onnx.Export;

/// <summary>What an export wrote: the graph's inputs and outputs, for the user to feed ONNX Runtime.</summary>
public sealed record OnnxExportResult(string Path, TaskKind? Task, int Adapters, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs);

/// <summary>An exported model built in memory, ready to be written.</summary>
public sealed class OnnxExport(ModelProto model, TaskKind? task, int adapters, IReadOnlyList<string> inputs, IReadOnlyList<string> outputs)
{
    /// <summary>The size of the .onnx file.</summary>
    public long Bytes => model.CalculateSize();

    public OnnxExportResult WriteTo(string path)
    {
        OnnxModelFile.Write(path, model);
        return new OnnxExportResult(Path.GetFullPath(path), task, adapters, inputs, outputs);
    }
}

/// <summary>
/// `fastprefix export onnx`: the frozen encoder with one or more trained adapters (prefix and head as initializers)
/// as an ONNX model that ONNX Runtime runs alone. Inputs input_ids, attention_mask, token_type_ids (int64
/// [batch, sequence]; [batch, choices, sequence] for multiple choice) and, with several adapters, adapter_index
/// (int64 [batch]: which adapter each row uses). Outputs: logits ([batch, labels]; [batch, sequence, labels] for token
/// classification; [batch, choices] for multiple choice) or start_logits and end_logits ([batch, sequence]) for QA.
/// Without adapters: the backbone, with last_hidden_state and pooler_output.
/// </summary>
public static class OnnxExporter
{
    public const int Opset = 17;   // LayerNormalization became a standard op in opset 17
    const int IrVersion = 8;      // the IR version of opset 17

    public static OnnxExportResult Export(string modelFolder, IReadOnlyList<string> adapterPaths, string outputPath) =>
        Build(modelFolder, adapterPaths).WriteTo(outputPath);

    /// <summary>Loads the backbone and adapters and builds the graph in memory; nothing is written.</summary>
    public static OnnxExport Build(string modelFolder, IReadOnlyList<string> adapterPaths)
    {
        ModelFolder.Check(modelFolder);
        using var backend = new CpuBackend();
        using var weights = ModelFolder.LoadWeights(backend, modelFolder);
        using var encoder = new Encoder(backend, weights);
        var adapters = adapterPaths.Count == 0 ? null : AdapterStack.Load(adapterPaths, encoder, BackboneFingerprint.OfFolder(modelFolder));

        var b = new GraphBuilder();
        bool choices = adapters?.Task == TaskKind.MultipleChoice;
        object[] dims = choices ? ["batch", "choices", "sequence"] : ["batch", "sequence"];
        foreach (var name in new[] { "input_ids", "attention_mask", "token_type_ids" }) b.Input(name, DataType.Int64, dims);
        if (adapters is { Count: > 1 }) b.Input("adapter_index", DataType.Int64, "batch");

        // Multiple choice encodes every (example, choice) row: [B, Ch, T] → [B·Ch, T].
        string Rows(string input) => choices ? b.Node("Flatten", [input], Attr("axis", 2L)) : input;
        b.Scope = "inputs/";
        string ids = Rows("input_ids"), mask = Rows("attention_mask"), types = Rows("token_type_ids");
        string? row = adapters == null ? null : RowAdapter(b, adapters, ids, choices);
        var (hidden, pooled) = new EncoderGraphWriter(b, weights, adapters).Write(ids, mask, types, row,
            pooled: adapters == null ? weights.PoolerWeight != null : adapters.Task is TaskKind.SequenceClassification or TaskKind.MultipleChoice);

        var outputs = new List<string>();
        if (adapters == null)
        {
            outputs.Add(b.NodeTo("last_hidden_state", "Identity", [hidden]));
            b.Output("last_hidden_state", DataType.Float, "batch", "sequence", weights.Config.HiddenSize);
            if (pooled != null) { outputs.Add(b.NodeTo("pooler_output", "Identity", [pooled])); b.Output("pooler_output", DataType.Float, "batch", weights.Config.HiddenSize); }
        }
        else
        {
            var logits = new HeadGraphWriter(b, adapters, weights.Config.HiddenSize).Write(hidden, pooled, row!);
            b.Scope = "outputs/";
            switch (adapters.Task)
            {
                case TaskKind.SequenceClassification:
                    outputs.Add(b.NodeTo("logits", "Identity", [logits]));
                    b.Output("logits", DataType.Float, "batch", adapters.Outputs);
                    break;
                case TaskKind.TokenClassification:
                    outputs.Add(b.NodeTo("logits", "Identity", [logits]));
                    b.Output("logits", DataType.Float, "batch", "sequence", adapters.Outputs);
                    break;
                case TaskKind.MultipleChoice:
                    outputs.Add(b.NodeTo("logits", "Reshape", [logits, b.Node("Shape", ["input_ids"], Attr("start", 0L), Attr("end", 2L))]));
                    b.Output("logits", DataType.Float, "batch", "choices");
                    break;
                case TaskKind.QuestionAnswering:
                    var parts = b.Nodes("Split", [logits, b.Ints(1, 1)], 2, Attr("axis", -1L));
                    outputs.Add(b.NodeTo("start_logits", "Squeeze", [parts[0], b.Ints(2)]));
                    outputs.Add(b.NodeTo("end_logits", "Squeeze", [parts[1], b.Ints(2)]));
                    b.Output("start_logits", DataType.Float, "batch", "sequence");
                    b.Output("end_logits", DataType.Float, "batch", "sequence");
                    break;
            }
        }

        var model = new ModelProto
        {
            IrVersion = IrVersion, ProducerName = "FastPrefix", ProducerVersion = typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "",
            DocString = adapters == null ? "FastPrefix export of a frozen encoder" : $"FastPrefix export: frozen encoder with {adapters.Count} P-Tuning v2 adapter(s)",
            Graph = b.Graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        foreach (var (key, value) in Metadata(adapters))
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return new OnnxExport(model, adapters?.Task, adapters?.Count ?? 0, [.. b.Graph.Input.Select(i => i.Name)], outputs);
    }

    /// <summary>Which adapter each encoder row reads: adapter_index (per example, repeated over choices), or 0 for one adapter.</summary>
    static string RowAdapter(GraphBuilder b, AdapterStack adapters, string ids, bool choices)
    {
        if (adapters.Count == 1)
            return b.Node("ConstantOfShape", [b.Node("Shape", [ids], Attr("start", 0L), Attr("end", 1L))], Attr("value", OnnxTensors.Int64("", [0L], 1)));
        if (!choices) return "adapter_index";
        var perChoice = b.Node("Expand", b.Node("Unsqueeze", "adapter_index", b.Ints(1)), b.Node("Shape", ["input_ids"], Attr("start", 0L), Attr("end", 2L)));
        return b.Node("Reshape", perChoice, b.Ints(-1));
    }

    /// <summary>What a deployment needs to know: task, labels per adapter, positions, sequence length, tokenizer.</summary>
    static Dictionary<string, string> Metadata(AdapterStack? adapters)
    {
        var d = new Dictionary<string, string>();
        if (adapters == null) return d;
        var first = adapters.Metadata[0];
        d["fastprefix.task"] = AdapterMetadata.TaskName(adapters.Task);
        d["fastprefix.adapters"] = JsonSerializer.Serialize(adapters.Paths.Select(Path.GetFileName));
        d["fastprefix.labels"] = JsonSerializer.Serialize(adapters.Metadata.Select(m => m.Labels));
        d["fastprefix.positions"] = AdapterMetadata.PositionsName(adapters.Positions);
        d["fastprefix.prefix_length"] = adapters.PrefixLen.ToString();
        d["fastprefix.max_seq_length"] = first.MaxSeqLength.ToString();
        d["fastprefix.tokenizer_kind"] = first.TokenizerKind;
        return d;
    }
}
