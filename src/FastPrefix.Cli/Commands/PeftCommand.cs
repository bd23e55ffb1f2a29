using System.CommandLine;
using FastPrefix.Adapters;
using FastPrefix.Backends;
using FastPrefix.Data.Tasks;
using FastPrefix.Model;

namespace FastPrefix.Cli.Commands;

/// <summary>`fastprefix peft export|import`: convert between adapter.safetensors and Hugging Face PEFT prefix-tuning folders.</summary>
internal static class PeftCommand
{
    public static Command Create()
    {
        var exportModel = CommonOptions.Model();
        var exportAdapter = new Option<string>("--adapter") { Description = "adapter.safetensors to export", Required = true };
        var exportOut = new Option<string>("--output") { Description = "Folder for adapter_config.json + adapter_model.safetensors", Required = true };
        var baseName = new Option<string?>("--base-model-name") { Description = "base_model_name_or_path to record (default: the model folder)" };
        var export = new Command("export", "Write a PEFT prefix-tuning folder (an MLP prefix is folded into its computed prefix)") { exportModel, exportAdapter, exportOut, baseName };
        export.SetAction(p => CliErrors.Run(() => Export(p.GetValue(exportModel)!, p.GetValue(exportAdapter)!, p.GetValue(exportOut)!, p.GetValue(baseName), Console.Out)));

        var importModel = CommonOptions.Model();
        var importPeft = new Option<string>("--peft") { Description = "PEFT folder with adapter_config.json and adapter_model.safetensors", Required = true };
        var importOut = new Option<string>("--output") { Description = "adapter.safetensors to write", Required = true };
        var task = new Option<string?>("--task") { Description = "seqcls | tokcls | qa | mc, when adapter_config.json's task_type does not say" };
        var labels = new Option<string?>("--labels") { Description = "Comma-separated label names to record (PEFT folders hold none)" };
        var maxLen = new Option<int>("--max-seq-length") { Description = "Max sequence length to record for eval/predict", DefaultValueFactory = _ => 128 };
        var import = new Command("import", "Turn a PEFT prefix-tuning folder into a FastPrefix adapter for this backbone") { importModel, importPeft, importOut, task, labels, maxLen };
        import.SetAction(p => CliErrors.Run(() => Import(p.GetValue(importModel)!, p.GetValue(importPeft)!, p.GetValue(importOut)!, p.GetValue(task),
            p.GetValue(labels)?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries), p.GetValue(maxLen), Console.Out)));

        return new Command("peft", "Import and export Hugging Face PEFT prefix-tuning adapters") { export, import };
    }

    public static int Export(string modelDir, string adapterPath, string outputDir, string? baseModelName, TextWriter output)
    {
        using var s = AdapterSession.Open(modelDir, adapterPath, "cpu", Console.Error);
        Directory.CreateDirectory(outputDir);
        PeftPrefixAdapter.Export(outputDir, s.Model, s.Metadata, baseModelName ?? Path.GetFullPath(modelDir));
        output.WriteLine($"PEFT adapter written to {outputDir}");
        return 0;
    }

    public static int Import(string modelDir, string peftDir, string outputPath, string? task, IReadOnlyList<string>? labels, int maxLen, TextWriter output)
    {
        ModelFolder.Check(modelDir);
        if (!Directory.Exists(peftDir)) throw new UserInputException($"{peftDir}: PEFT folder not found");
        var tokenizer = Data.Tokenization.TokenizerFactory.FromFolder(modelDir);
        using var backend = BackendFactory.Create("cpu");
        using var weights = ModelFolder.LoadWeights(backend, modelDir);
        string fingerprint = BackboneFingerprint.OfFolder(modelDir);
        using var model = PeftPrefixAdapter.Import(peftDir, new Encoder(backend, weights), new PeftImportOptions
        {
            Task = task == null ? null : TaskDataLoader.ParseTask(task), Labels = labels, BackboneFingerprint = fingerprint,
        });
        var names = labels ?? (model.Head.Kind is Model.Heads.TaskKind.SequenceClassification or Model.Heads.TaskKind.TokenClassification
            ? Enumerable.Range(0, model.Head.Outputs).Select(i => i.ToString()).ToArray() : []);
        if (names.Count > 0 && names.Count != model.Head.Outputs && model.Head.Kind is Model.Heads.TaskKind.SequenceClassification or Model.Heads.TaskKind.TokenClassification)
            throw new UserInputException($"--labels has {names.Count} names but the PEFT head has {model.Head.Outputs} outputs");
        AdapterFile.Save(outputPath, model, AdapterMetadata.FromModel(model, names, fingerprint, maxLen, tokenizer.Kind));
        output.WriteLine($"adapter written to {outputPath} (task {TaskDataLoader.TaskName(model.Head.Kind)}, positions {AdapterMetadata.PositionsName(model.Options.Positions)})");
        return 0;
    }
}
