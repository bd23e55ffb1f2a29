using System.CommandLine;
using System.Text.Json;
using FastPrefix.Adapters;
using FastPrefix.Backends;
using FastPrefix.Data.Features;
using FastPrefix.Data.Tasks;
using FastPrefix.Data.Tokenization;
using FastPrefix.Model;
using FastPrefix.Model.Heads;
using FastPrefix.Training;

namespace FastPrefix.Cli.Commands;

/// <summary>Everything `fastprefix train` was asked to do.</summary>
internal sealed record TrainRequest
{
    public required string ModelDir { get; init; }
    public required TaskKind Task { get; init; }
    public required string TrainPath { get; init; }
    public string? EvalPath { get; init; }
    public required string OutputDir { get; init; }
    public int PrefixLen { get; init; } = 16;
    public int PrefixProjection { get; init; }
    public int FirstLayer { get; init; }
    public PositionMode Positions { get; init; }
    /// <summary>Dropout overrides (null: the checkpoint config's probabilities, as the reference).</summary>
    public float? HiddenDropout { get; init; }
    public float? AttentionDropout { get; init; }
    public float? PrefixDropout { get; init; }
    public required TrainingOptions Training { get; init; }
    public required TaskDataOptions Data { get; init; }
    public string Device { get; init; } = "auto";
    /// <summary>fp32 | bf16, or null for the device's default.</summary>
    public string? Precision { get; init; }
    public bool Resume { get; init; }
    /// <summary>Start over in an --output that holds a run (its checkpoint, adapter and logs are removed first).</summary>
    public bool Overwrite { get; init; }
    /// <summary>Train a prefix beyond the sane bounds (longer than the position table, or more memory than available).</summary>
    public bool Force { get; init; }
}

internal static class TrainCommand
{
    public const string AdapterFileName = "adapter.safetensors";

    public static Command Create()
    {
        var model = CommonOptions.Model();
        var task = new Option<string>("--task") { Description = "seqcls | tokcls | qa | mc", Required = true };
        task.AcceptOnlyFromAmong("seqcls", "tokcls", "qa", "mc");
        var train = new Option<string>("--train") { Description = "Training data: JSONL/CSV/TSV (seqcls), CoNLL (tokcls), SQuAD JSON (qa), JSONL (mc)", Required = true };
        var eval = new Option<string?>("--eval") { Description = "Evaluation data, same format; evaluated every epoch and the best adapter kept" };
        var output = new Option<string>("--output") { Description = "Folder for adapter.safetensors, metrics.jsonl, curves.png and the checkpoint", Required = true };
        var prefixLen = new Option<int>("--prefix-len") { Description = "Prefix length P (virtual tokens per layer)", DefaultValueFactory = _ => 16 };
        var projection = new Option<int>("--prefix-projection") { Description = "Reparameterise the prefix with an MLP of this hidden size (0: plain prefix)", DefaultValueFactory = _ => 0 };
        var firstLayer = new Option<int>("--first-layer") { Description = "First layer that gets a prefix (0: every layer)", DefaultValueFactory = _ => 0 };
        var positions = new Option<string>("--positions") { Description = "from-zero | after-prefix (the P-Tuning v2 code's numbering)", DefaultValueFactory = _ => "from-zero" };
        positions.AcceptOnlyFromAmong("from-zero", "after-prefix");
        var epochs = new Option<int>("--epochs") { Description = "Training epochs", DefaultValueFactory = _ => 3 };
        var maxSteps = new Option<int>("--max-steps") { Description = "Stop after this many optimiser steps (overrides --epochs)", DefaultValueFactory = _ => 0 };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate (AdamW)", DefaultValueFactory = _ => 1e-2 };
        var batch = new Option<int>("--batch-size") { Description = "Examples per step", DefaultValueFactory = _ => 16 };
        var maxLen = new Option<int?>("--max-seq-length") { Description = "Tokens per input, special tokens included (default 128; 384 for qa)" };
        var seed = new Option<ulong>("--seed") { Description = "Seed of initialisation, shuffling and dropout", DefaultValueFactory = _ => 42 };
        var warmup = new Option<double>("--warmup-ratio") { Description = "Share of steps for linear warmup", DefaultValueFactory = _ => 0 };
        var decay = new Option<float>("--weight-decay") { Description = "AdamW decoupled weight decay", DefaultValueFactory = _ => 0 };
        var schedule = new Option<string>("--schedule") { Description = "linear | constant | exponential (per-epoch, --gamma)", DefaultValueFactory = _ => "linear" };
        schedule.AcceptOnlyFromAmong("linear", "constant", "exponential");
        var gamma = new Option<double>("--gamma") { Description = "Per-epoch factor of the exponential schedule", DefaultValueFactory = _ => 0.95 };
        var clip = new Option<double>("--max-grad-norm") { Description = "Clip gradients to this global norm (0: off)", DefaultValueFactory = _ => 1.0 };
        var patience = new Option<int>("--patience") { Description = "Early stopping: evaluations without improvement before stopping (0: off)", DefaultValueFactory = _ => 0 };
        var resume = new Option<bool>("--resume") { Description = "Continue from the checkpoint in --output" };
        var overwrite = new Option<bool>("--overwrite") { Description = "Start over in an --output that already holds a run (its checkpoint, adapter and logs are removed)" };
        var force = new Option<bool>("--force") { Description = "Train a prefix longer than the model's positions or larger than the memory available" };
        var textFields = new Option<string?>("--text-fields") { Description = "Comma-separated text fields/columns, e.g. sentence1,sentence2 (default: GLUE names)" };
        var labelField = new Option<string?>("--label-field") { Description = "Label field/column (default: label)" };
        var squadV2 = new Option<bool>("--squad-v2") { Description = "QA: allow unanswerable questions (SQuAD 2.0 post-processing)" };
        var stride = new Option<int?>("--doc-stride") { Description = "QA: overlap of context windows in tokens (default: half the context a window holds, at most 128)" };
        var hiddenDropout = new Option<float?>("--hidden-dropout") { Description = "Dropout in the backbone and on the head input while training (default: config hidden_dropout_prob)" };
        var attentionDropout = new Option<float?>("--attention-dropout") { Description = "Dropout on attention probabilities (default: config attention_probs_dropout_prob)" };
        var prefixDropout = new Option<float?>("--prefix-dropout") { Description = "Dropout on the prefix keys/values (default: config hidden_dropout_prob)" };
        var device = CommonOptions.Device();
        var precision = CommonOptions.Precision();
        var graphs = CommonOptions.Graphs();
        var command = new Command("train", "Train a P-Tuning v2 prefix and task head on a frozen checkpoint. " +
            $"Ctrl+C stops after the current step, writes a checkpoint and exits {CliErrors.Interrupted}; --resume continues from it")
        {
            model, task, train, eval, output, prefixLen, projection, firstLayer, positions, epochs, maxSteps, lr, batch, maxLen, seed,
            warmup, decay, schedule, gamma, clip, patience, resume, overwrite, force, textFields, labelField, squadV2, stride,
            hiddenDropout, attentionDropout, prefixDropout, device, precision, graphs,
        };
        command.SetAction(p => CliErrors.Run(() =>
        {
            var kind = TaskDataLoader.ParseTask(p.GetValue(task)!);
            int maxSeq = p.GetValue(maxLen) ?? (kind == TaskKind.QuestionAnswering ? 384 : 128);
            var request = new TrainRequest
            {
                ModelDir = p.GetValue(model)!, Task = kind, TrainPath = p.GetValue(train)!, EvalPath = p.GetValue(eval),
                OutputDir = p.GetValue(output)!, PrefixLen = p.GetValue(prefixLen), PrefixProjection = p.GetValue(projection),
                FirstLayer = p.GetValue(firstLayer), Positions = p.GetValue(positions) == "after-prefix" ? PositionMode.AfterPrefix : PositionMode.FromZero,
                Device = p.GetValue(device)!, Precision = p.GetValue(precision), Resume = p.GetValue(resume), Overwrite = p.GetValue(overwrite), Force = p.GetValue(force),
                HiddenDropout = p.GetValue(hiddenDropout), AttentionDropout = p.GetValue(attentionDropout), PrefixDropout = p.GetValue(prefixDropout),
                Training = new TrainingOptions
                {
                    Epochs = p.GetValue(epochs), MaxSteps = p.GetValue(maxSteps), LearningRate = p.GetValue(lr), BatchSize = p.GetValue(batch),
                    Seed = p.GetValue(seed), WarmupRatio = p.GetValue(warmup), WeightDecay = p.GetValue(decay), MaxGradNorm = p.GetValue(clip),
                    Schedule = p.GetValue(schedule) switch { "constant" => LrScheduleKind.Constant, "exponential" => LrScheduleKind.Exponential, _ => LrScheduleKind.Linear },
                    Gamma = p.GetValue(gamma), EarlyStoppingPatience = p.GetValue(patience), LengthBucketing = true,
                    UseGraphs = p.GetValue(graphs) == "on",
                },
                Data = new TaskDataOptions
                {
                    MaxSeqLength = maxSeq, TextFields = p.GetValue(textFields)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                    LabelField = p.GetValue(labelField), SquadV2 = p.GetValue(squadV2), DocStride = p.GetValue(stride),
                },
            };
            // Ctrl+C stops after the current step and leaves a checkpoint; `--resume` continues from it.
            using var cancel = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
            Console.CancelKeyPress += onCancel;
            try { return Execute(request, Console.Out, cancel.Token); }
            finally { Console.CancelKeyPress -= onCancel; }
        }));
        return command;
    }

    public static int Execute(TrainRequest r, TextWriter output, CancellationToken cancel = default)
    {
        // Options, then the inputs (missing or malformed files first), then how they fit the model, then the output.
        Validate(r);
        var config = ModelFolder.LoadConfig(r.ModelDir);
        var tokenizer = TokenizerFactory.FromFolder(r.ModelDir);
        TokenizerFactory.CheckFits(tokenizer, config, r.ModelDir);
        var train = TaskDataLoader.Load(r.Task, r.TrainPath, tokenizer, r.Data);
        TaskDataset? eval = r.EvalPath == null ? null
            : TaskDataLoader.Load(r.Task, r.EvalPath, tokenizer, r.Data, train.Labels.Count > 0 ? train.Labels : null);
        if (r.FirstLayer >= config.NumLayers) throw new UserInputException($"--first-layer {r.FirstLayer} must be below the model's {config.NumLayers} layers");
        if (r.Data.MaxSeqLength > config.MaxInputTokens(r.Positions, r.PrefixLen))
            throw new UserInputException($"--max-seq-length {r.Data.MaxSeqLength} does not fit the model's positions: {config.MaxInputTokensText(r.Positions, r.PrefixLen)}");
        var budget = PrefixBudget.Estimate(config, r.PrefixLen, r.PrefixProjection, r.FirstLayer, PrefixBudget.HeadOutputs(r.Task, train.Labels.Count),
            r.Training.BatchSize, r.Data.MaxSeqLength);
        budget.Check(config, r.PrefixLen, r.Training.BatchSize, r.Data.MaxSeqLength, r.Force);
        PrepareOutput(r, budget.DiskBytes);

        foreach (var (set, path) in new[] { (train, r.TrainPath), (eval, r.EvalPath) })
            if (set?.TruncationNote != null) output.WriteLine($"note: {path}: {set.TruncationNote}");
        if (r.Task == TaskKind.QuestionAnswering && r.Data.DocStride == null)
            output.WriteLine($"note: --doc-stride not set: using {train.DocStride} (half the context tokens a {r.Data.MaxSeqLength}-token window holds, at most {QaFeatures.DefaultStride})");
        output.WriteLine($"model {config.ModelType} {config.NumLayers} layers, hidden {config.HiddenSize}; task {TaskDataLoader.TaskName(r.Task)}; " +
                         $"{train.Data.Count} training rows{(eval != null ? $", {eval.Data.Count} evaluation rows" : "")}" +
                         (train.Labels.Count > 0 ? $"; labels: {string.Join(", ", train.Labels)}" : ""));
        output.WriteLine($"prefix of {r.PrefixLen}: {budget.Describe(r.Training.BatchSize, r.Data.MaxSeqLength)}");

        using var backend = BackendFactory.Create(r.Device, r.Precision, note => Console.Error.WriteLine(note));
        using var weights = ModelFolder.LoadWeights(backend, r.ModelDir);
        var encoder = new Encoder(backend, weights);
        Prefix prefix = r.PrefixProjection > 0
            ? new MlpPrefix(backend, config, r.PrefixLen, r.PrefixProjection, r.FirstLayer)
            : new PlainPrefix(backend, config, r.PrefixLen, r.FirstLayer);
        using var model = new PTuningModel(encoder, prefix, TaskHead.Create(r.Task, backend, config, train.NumOutputs),
            new PTuningOptions { Positions = r.Positions, HiddenDropout = r.HiddenDropout, AttentionDropout = r.AttentionDropout, PrefixDropout = r.PrefixDropout });
        Initialization.Initialize(model, (int)(r.Training.Seed % int.MaxValue));
        long trainable = model.Parameters.Sum(p => p.Length);
        output.WriteLine($"trainable parameters: {trainable:N0} (prefix {prefix.Parameters.Sum(p => p.Length):N0}, head {model.Head.Parameters.Sum(p => p.Length):N0})");

        var trainer = new Trainer(model, train.Data, r.Training with { OutputDir = r.OutputDir }, eval?.Evaluator());
        if (r.Resume && !trainer.HasCheckpoint) throw new UserInputException($"--resume: no checkpoint in {r.OutputDir}");
        string adapterPath = Path.Combine(r.OutputDir, AdapterFileName);
        try
        {
            var result = new ProgressRenderer(output).Run(trainer, () => trainer.Run(r.Resume, cancel));
            if (result.Cancelled)
            {
                output.WriteLine($"interrupted after step {result.Steps} of {result.TotalSteps}; the checkpoint is in {r.OutputDir}: run the same command with --resume to continue");
                return CliErrors.Interrupted;
            }

            var extra = r.Task == TaskKind.QuestionAnswering
                ? new Dictionary<string, string> { ["doc_stride"] = train.DocStride!.Value.ToString(), ["squad_v2"] = r.Data.SquadV2 ? "true" : "false" }
                : new Dictionary<string, string>();
            var meta = AdapterMetadata.FromModel(model, train.Labels, BackboneFingerprint.OfFolder(r.ModelDir), r.Data.MaxSeqLength, tokenizer.Kind, extra);
            AdapterFile.Save(adapterPath, model, meta);
            output.WriteLine($"adapter written to {adapterPath}");
            var best = result.History.FirstOrDefault(e => e.Epoch == result.BestEpoch)?.Eval ?? result.History.LastOrDefault()?.Eval;
            if (best != null)
            {
                output.WriteLine($"best evaluation (epoch {result.BestEpoch}):");
                output.WriteLine(JsonSerializer.Serialize(best.ToDictionary(kv => kv.Key, kv => Math.Round(kv.Value, 6))));
            }
            else output.WriteLine($"final training loss {result.History.LastOrDefault()?.TrainLoss:F4} (no --eval data)");
        }
        catch (Exception e) when (OutputFolder.IsDiskFull(e))
        {
            string kept = trainer.HasCheckpoint
                ? $"the last good checkpoint is kept in {trainer.CheckpointPath}: free some space and run the same command with --resume to continue"
                : "no checkpoint was written yet: free some space and run the command again";
            throw new UserInputException($"{r.OutputDir}: no space left on the device while writing the run; {kept}");
        }
        return CliErrors.Ok;
    }

    /// <summary>An --output that holds a run needs --resume or --overwrite; then the folder must be writable with room for the run.</summary>
    static void PrepareOutput(TrainRequest r, long bytesNeeded)
    {
        OutputFolder.MustNotBeAFile(r.OutputDir, "--output");
        string[] runFiles = [TrainingCheckpoint.FileName, AdapterFileName, MetricsLog.FileName, CurvesPlot.FileName];
        var present = runFiles.Where(f => File.Exists(Path.Combine(r.OutputDir, f))).ToList();
        if (present.Count > 0 && !r.Resume && !r.Overwrite)
            throw new UserInputException($"--output {r.OutputDir} already holds a training run ({string.Join(", ", present)}); " +
                                         "pass --resume to continue it or --overwrite to start over");
        if (r.Overwrite)
            foreach (var f in present) File.Delete(Path.Combine(r.OutputDir, f));
        OutputFolder.Prepare(r.OutputDir, "--output", bytesNeeded);
    }

    static void Validate(TrainRequest r)
    {
        if (r.PrefixLen <= 0) throw new UserInputException($"--prefix-len must be positive, got {r.PrefixLen}");
        if (r.PrefixProjection < 0) throw new UserInputException($"--prefix-projection must be >= 0, got {r.PrefixProjection}");
        if (r.FirstLayer < 0) throw new UserInputException($"--first-layer must be >= 0, got {r.FirstLayer}");
        if (r.Data.MaxSeqLength < 8) throw new UserInputException($"--max-seq-length must be at least 8, got {r.Data.MaxSeqLength}");
        foreach (var (name, value) in new[] { ("--hidden-dropout", r.HiddenDropout), ("--attention-dropout", r.AttentionDropout), ("--prefix-dropout", r.PrefixDropout) })
            if (value is < 0 or >= 1) throw new UserInputException($"{name} must be in [0, 1), got {value}");
        if (r.Training.EarlyStoppingPatience > 0 && r.EvalPath == null)
            throw new UserInputException($"--patience {r.Training.EarlyStoppingPatience} needs --eval data: early stopping watches the evaluation metric");
        if (r.Resume && r.Overwrite) throw new UserInputException("--resume and --overwrite exclude each other: continue the run in --output, or start it over");
        try { r.Training.Validate(); }
        catch (ArgumentException e) { throw new UserInputException(OptionName(e.Message)); }
        ModelFolder.Check(r.ModelDir);
        InputFile(r.TrainPath, "--train");
        if (r.EvalPath != null) InputFile(r.EvalPath, "--eval");
        OutputFolder.MustNotBeAFile(r.OutputDir, "--output");
    }

    /// <summary>A data file that must exist (checked before anything is compared with the model).</summary>
    internal static void InputFile(string path, string option)
    {
        if (Directory.Exists(path)) throw new UserInputException($"{option} {path} is a folder; expected a data file");
        if (!File.Exists(path)) throw new UserInputException($"{option} {path}: file not found");
    }

    /// <summary>Maps option record names in messages to the CLI's spelling.</summary>
    static string OptionName(string message) => message
        .Replace("MaxSteps", "--max-steps").Replace("Epochs", "--epochs").Replace("BatchSize", "--batch-size").Replace("LearningRate", "--lr")
        .Replace("WarmupRatio", "--warmup-ratio").Replace("MaxGradNorm", "--max-grad-norm").Replace("EarlyStoppingPatience", "--patience").Replace("Gamma", "--gamma");
}
