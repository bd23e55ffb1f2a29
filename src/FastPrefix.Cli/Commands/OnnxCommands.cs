using System.CommandLine;
using FastPrefix.Model;
using FastPrefix.Onnx.Export;
using FastPrefix.Onnx.Import;

namespace FastPrefix.Cli.Commands;

/// <summary>`fastprefix import onnx` and `fastprefix export onnx`: the bridge to ONNX files and ONNX Runtime.</summary>
internal static class OnnxCommands
{
    public static Command Import()
    {
        var model = new Argument<string>("model") { Description = "ONNX export of a BERT or RoBERTa encoder (standard ops, float32)" };
        var output = new Option<string>("--output") { Description = "Model folder to write: config.json, model.safetensors, tokenizer files", Required = true };
        var vocab = new Option<string?>("--vocab") { Description = "vocab.txt (WordPiece) or vocab.json (byte-level BPE); default: beside the model" };
        var merges = new Option<string?>("--merges") { Description = "merges.txt for a vocab.json (default: beside it)" };
        var config = new Option<string?>("--tokenizer-config") { Description = "tokenizer_config.json (default: beside the vocabulary, if there)" };
        var cased = new Option<bool>("--cased") { Description = "The WordPiece vocabulary is cased (sets do_lower_case false; default: the tokenizer config's, else uncased)" };
        var onnx = new Command("onnx", "Turn an ONNX encoder (e.g. a sentence-transformers or Optimum export) into a Hugging Face model folder") { model, output, vocab, merges, config, cased };
        onnx.SetAction(p => CliErrors.Run(() => ExecuteImport(p.GetValue(model)!, p.GetValue(output)!, new TokenizerSource
        {
            Vocab = p.GetValue(vocab), Merges = p.GetValue(merges), Config = p.GetValue(config), LowerCase = p.GetValue(cased) ? false : null,
        }, Console.Out)));
        return new Command("import", "Import a model from another format") { onnx };
    }

    public static Command Export()
    {
        var model = CommonOptions.Model();
        var adapters = new Option<string[]>("--adapter")
        {
            Description = "adapter.safetensors (or the train --output folder holding it) to include; repeat for several adapters of one task " +
                          "(rows then pick one by the adapter_index input). None: export the backbone alone",
            AllowMultipleArgumentsPerToken = false,
        };
        var output = new Option<string>("--output") { Description = $"Folder to write {ModelFileName} into", Required = true };
        var onnx = new Command("onnx", "Write the frozen encoder with trained prefixes and heads as an ONNX model for ONNX Runtime") { model, adapters, output };
        onnx.SetAction(p => CliErrors.Run(() => ExecuteExport(p.GetValue(model)!, p.GetValue(adapters) ?? [], p.GetValue(output)!, Console.Out)));
        return new Command("export", "Export a model to another format") { onnx };
    }

    /// <summary>The file `export onnx` writes into its --output folder.</summary>
    public const string ModelFileName = "model.onnx";

    public static int ExecuteImport(string model, string output, TokenizerSource tokenizer, TextWriter console)
    {
        OutputFolder.MustNotBeAFile(output, "--output");
        var import = OnnxImporter.Read(model, tokenizer);
        OutputFolder.Prepare(output, "--output", import.Bytes);
        var r = import.WriteTo(output);
        var c = r.Config;
        console.WriteLine($"imported {Path.GetFileName(model)}: {c.ModelType}, {c.NumLayers} layers, hidden {c.HiddenSize}, {c.NumHeads} heads, " +
                          $"intermediate {c.IntermediateSize}, vocab {c.VocabSize}, {(r.HasPooler ? "with" : "no")} pooler, {r.TokenizerKind} tokenizer");
        console.WriteLine($"wrote {string.Join(", ", r.Files)} to {r.Folder}");
        return 0;
    }

    public static int ExecuteExport(string model, IReadOnlyList<string> adapters, string output, TextWriter console)
    {
        var files = adapters.Select(AdapterSession.ResolveAdapter).ToList();
        OutputFolder.MustNotBeAFile(output, "--output");
        var export = OnnxExporter.Build(model, files);
        OutputFolder.Prepare(output, "--output", export.Bytes);
        var r = export.WriteTo(Path.Combine(output, ModelFileName));
        string what = r.Task is { } task ? $"{Data.Tasks.TaskDataLoader.TaskName(task)} with {r.Adapters} adapter{(r.Adapters > 1 ? "s" : "")}" : "backbone only";
        console.WriteLine($"wrote {r.Path} (ONNX opset {OnnxExporter.Opset}, {what})");
        console.WriteLine($"inputs: {string.Join(", ", r.Inputs)}; outputs: {string.Join(", ", r.Outputs)}");
        return 0;
    }
}
