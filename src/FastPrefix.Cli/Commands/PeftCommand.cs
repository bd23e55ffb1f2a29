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
        var exportAdapter = CommonOptions.Adapter();
        var exportOut = new Option<string>("--output") { Description = "Folder for adapter_config.json + adapter_model.safetensors", Required = true };
        var baseName = new Option<string?>("--base-model-name") { Description = "base_model_name_or_path to record (default: the model folder)" };
        var exportForce = new Option<bool>("--force") { Description = "Export a from-zero adapter although PEFT numbers positions after the prefix (its logits will differ there)" };
        var export = new Command("export", "Write a PEFT prefix-tuning folder (an MLP prefix is folded into its computed prefix)") { exportModel, exportAdapter, exportOut, baseName, exportForce };
        export.SetAction(p => CliErrors.Run(() => Export(p.GetValue(exportModel)!, p.GetValue(exportAdapter)!, p.GetValue(exportOut)!, p.GetValue(baseName),
            p.GetValue(exportForce), Console.Out)));

        var importModel = CommonOptions.Model();
        var importPeft = new Option<string>("--peft") { Description = "PEFT folder with adapter_config.json and adapter_model.safetensors", Required = true };
        var importOut = new Option<string>("--output") { Description = $"Folder for the imported {TrainCommand.AdapterFileName}", Required = true };
        var task = new Option<string?>("--task") { Description = "seqcls | tokcls | qa | mc, when adapter_config.json's task_type does not say" };
        task.AcceptOnlyFromAmong("seqcls", "tokcls", "qa", "mc");
        var labels = new Option<string?>("--labels") { Description = "Comma-separated label names to record (PEFT folders hold none)" };
        var maxLen = new Option<int?>("--max-seq-length") { Description = "Max sequence length to record for eval/predict (default: the one the folder records, else 128 or what the model's positions allow)" };
        var positions = new Option<string?>("--positions") { Description = "from-zero | after-prefix (default: what the folder records, else after-prefix, as PEFT numbers positions)" };
        positions.AcceptOnlyFromAmong("from-zero", "after-prefix");
        var import = new Command("import", "Turn a PEFT prefix-tuning folder into a FastPrefix adapter for this backbone") { importModel, importPeft, importOut, task, labels, maxLen, positions };
        import.SetAction(p => CliErrors.Run(() => Import(p.GetValue(importModel)!, p.GetValue(importPeft)!, p.GetValue(importOut)!, p.GetValue(task),
            p.GetValue(labels)?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries), p.GetValue(maxLen),
            p.GetValue(positions) is { } pos ? (AdapterMetadata.TryParsePositions(pos, out var mode) ? mode : null) : null, Console.Out)));

        return new Command("peft", "Import and export Hugging Face PEFT prefix-tuning adapters") { export, import };
    }

    public static int Export(string modelDir, string adapterPath, string outputDir, string? baseModelName, bool force, TextWriter output)
    {
        OutputFolder.MustNotBeAFile(outputDir, "--output");
        using var s = AdapterSession.Open(modelDir, adapterPath, "cpu", null, Console.Error);
        if (s.Model.Options.Positions == PositionMode.FromZero)
        {
            const string why = "it was trained with from-zero positions, but PEFT prefix tuning on BERT/RoBERTa numbers tokens after the prefix, so PEFT would compute different logits";
            if (!force) throw new UserInputException($"--adapter {adapterPath}: {why}; pass --force to export it anyway (FastPrefix reads its recorded positions back)");
            Console.Error.WriteLine($"warning: {why}");
        }
        OutputFolder.Prepare(outputDir, "--output", 0);
        PeftPrefixAdapter.Export(outputDir, s.Model, s.Metadata, baseModelName ?? Path.GetFullPath(modelDir));
        output.WriteLine($"PEFT adapter written to {outputDir}");
        return 0;
    }

    public static int Import(string modelDir, string peftDir, string outputDir, string? task, IReadOnlyList<string>? labels, int? maxLen,
        PositionMode? positions, TextWriter output)
    {
        ModelFolder.Check(modelDir);
        if (!Directory.Exists(peftDir)) throw new UserInputException($"--peft {peftDir}: PEFT folder not found");
        OutputFolder.MustNotBeAFile(outputDir, "--output");
        if (maxLen is < 8) throw new UserInputException($"--max-seq-length must be at least 8, got {maxLen}");
        var config = ModelFolder.LoadConfig(modelDir);
        var tokenizer = Data.Tokenization.TokenizerFactory.FromFolder(modelDir);
        Data.Tokenization.TokenizerFactory.CheckFits(tokenizer, config, modelDir);
        using var backend = BackendFactory.Create("cpu");
        using var weights = ModelFolder.LoadWeights(backend, modelDir);
        string fingerprint = BackboneFingerprint.OfFolder(modelDir);
        var encoder = new Encoder(backend, weights);
        var options = new PeftImportOptions
        {
            Task = task == null ? null : TaskDataLoader.ParseTask(task), Labels = labels, BackboneFingerprint = fingerprint, Positions = positions,
        };
        var contents = PeftPrefixAdapter.Read(peftDir, encoder, options);
        var recorded = contents.Metadata;
        var mode = recorded.Positions;
        long limit = config.MaxInputTokens(mode, recorded.PrefixLength);
        if (maxLen > limit)
            throw new UserInputException($"--max-seq-length {maxLen} does not fit the model's positions: {config.MaxInputTokensText(mode, recorded.PrefixLength)}");
        int length = maxLen ?? (recorded.MaxSeqLength > 0 ? recorded.MaxSeqLength : (int)Math.Min(128, limit));
        using var model = PeftPrefixAdapter.Import(peftDir, encoder, options);
        var names = labels ?? (recorded.Labels.Count > 0 ? recorded.Labels
            : model.Head.Kind is Model.Heads.TaskKind.SequenceClassification or Model.Heads.TaskKind.TokenClassification
                ? Enumerable.Range(0, model.Head.Outputs).Select(i => i.ToString()).ToArray() : []);
        if (names.Count > 0 && names.Count != model.Head.Outputs && model.Head.Kind is Model.Heads.TaskKind.SequenceClassification or Model.Heads.TaskKind.TokenClassification)
            throw new UserInputException($"--labels has {names.Count} names but the PEFT head has {model.Head.Outputs} outputs");
        OutputFolder.Prepare(outputDir, "--output", 0);
        string path = Path.Combine(outputDir, TrainCommand.AdapterFileName);
        AdapterFile.Save(path, model, AdapterMetadata.FromModel(model, names, fingerprint, length, tokenizer.Kind, recorded.Extra));
        output.WriteLine($"adapter written to {path} (task {TaskDataLoader.TaskName(model.Head.Kind)}, positions {AdapterMetadata.PositionsName(model.Options.Positions)}, " +
                         $"max sequence length {length})");
        return 0;
    }
}
