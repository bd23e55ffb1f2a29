using System.CommandLine;
using System.Text.Json;
using FastPrefix.Data.Tasks;

namespace FastPrefix.Cli.Commands;

/// <summary>`fastprefix eval`: metrics of an adapter on labelled data, as one JSON object on the last line.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var adapter = CommonOptions.Adapter();
        var data = CommonOptions.Data("Labelled data in the task's format");
        var batch = new Option<int>("--batch-size") { Description = "Rows per inference batch", DefaultValueFactory = _ => 32 };
        var textFields = new Option<string?>("--text-fields") { Description = "Comma-separated text fields (seqcls)" };
        var labelField = new Option<string?>("--label-field") { Description = "Label field (seqcls)" };
        var squadV2 = new Option<bool>("--squad-v2") { Description = "QA: SQuAD 2.0 post-processing (null answers)" };
        var device = CommonOptions.Device();
        var precision = CommonOptions.Precision();
        var command = new Command("eval", "Evaluate an adapter; prints the metrics as JSON on the last line") { model, adapter, data, batch, textFields, labelField, squadV2, device, precision };
        command.SetAction(p => CliErrors.Run(() => Execute(p.GetValue(model)!, p.GetValue(adapter)!, p.GetValue(data)!, p.GetValue(batch),
            p.GetValue(textFields)?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries), p.GetValue(labelField),
            p.GetValue(squadV2), p.GetValue(device)!, Console.Out, p.GetValue(precision))));
        return command;
    }

    public static int Execute(string modelDir, string adapterPath, string dataPath, int batchSize, IReadOnlyList<string>? textFields, string? labelField,
        bool squadV2, string device, TextWriter output, string? precision = null)
    {
        if (batchSize <= 0) throw new UserInputException($"--batch-size must be positive, got {batchSize}");
        TrainCommand.InputFile(dataPath, "--data");
        using var s = AdapterSession.Open(modelDir, adapterPath, device, precision, Console.Error);
        var data = TaskDataLoader.Load(s.Model.Head.Kind, dataPath, s.Tokenizer, s.DataOptions(textFields, labelField, squadV2), s.Labels);
        if (data.TruncationNote != null) Console.Error.WriteLine($"note: {dataPath}: {data.TruncationNote}");
        var metrics = data.Evaluator(batchSize).Evaluate(s.Model);
        output.WriteLine(JsonSerializer.Serialize(metrics.ToDictionary(kv => kv.Key, kv => Math.Round(kv.Value, 6))));
        return 0;
    }
}
