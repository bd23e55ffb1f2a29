using System.CommandLine;
using FastPrefix.Data.Features;
using FastPrefix.Data.Tasks;
using FastPrefix.Inference;
using FastPrefix.Model.Heads;

namespace FastPrefix.Cli.Commands;

/// <summary>`fastprefix predict`: one JSON line per input record.</summary>
internal static class PredictCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var adapter = CommonOptions.Adapter();
        var input = CommonOptions.Data("Records in the task's format (labels optional); '-' reads JSONL from standard input (seqcls, mc)");
        var batch = new Option<int>("--batch-size") { Description = "Rows per inference batch", DefaultValueFactory = _ => 32 };
        var textFields = new Option<string?>("--text-fields") { Description = "Comma-separated text fields (seqcls)" };
        var squadV2 = new Option<bool>("--squad-v2") { Description = "QA: allow null answers" };
        var device = CommonOptions.Device();
        var precision = CommonOptions.Precision();
        var command = new Command("predict", "Predict with an adapter: label and scores, tags per word, or answer text and span") { model, adapter, input, batch, textFields, squadV2, device, precision };
        command.SetAction(p => CliErrors.Run(() => Execute(p.GetValue(model)!, p.GetValue(adapter)!, p.GetValue(input)!, p.GetValue(batch),
            p.GetValue(textFields)?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries), p.GetValue(squadV2), p.GetValue(device)!, Console.In, Console.Out, p.GetValue(precision))));
        return command;
    }

    public static int Execute(string modelDir, string adapterPath, string inputPath, int batchSize, IReadOnlyList<string>? textFields, bool squadV2,
        string device, TextReader stdin, TextWriter output, string? precision = null)
    {
        if (batchSize <= 0) throw new UserInputException($"--batch-size must be positive, got {batchSize}");
        if (inputPath != "-") TrainCommand.InputFile(inputPath, "--data");
        using var s = AdapterSession.Open(modelDir, adapterPath, device, precision, Console.Error);
        var kind = s.Model.Head.Kind;
        string? temp = null;
        try
        {
            if (inputPath == "-")
            {
                if (kind is not (TaskKind.SequenceClassification or TaskKind.MultipleChoice))
                    throw new UserInputException("--data -: standard input is read as JSONL, which only seqcls and mc accept; give a file");
                temp = Path.Combine(Path.GetTempPath(), $"fastprefix-stdin-{Guid.NewGuid():N}.jsonl");
                File.WriteAllText(temp, stdin.ReadToEnd());
                inputPath = temp;
            }
            string shown = temp != null ? "stdin" : inputPath;
            var data = TaskDataLoader.Load(kind, inputPath, s.Tokenizer, s.DataOptions(textFields, null, squadV2), s.Labels, requireLabels: false, sourceName: shown);
            if (data.TruncationNote != null) Console.Error.WriteLine($"note: {shown}: {data.TruncationNote}");
            foreach (var line in Lines(s, data, batchSize)) output.WriteLine(line);
        }
        finally { if (temp != null) File.Delete(temp); }
        return 0;
    }

    /// <summary>One JSON line per record, built by the same <see cref="Prediction"/> factories the adapter host uses.</summary>
    static IEnumerable<string> Lines(AdapterSession s, TaskDataset data, int batchSize)
    {
        var labels = s.Metadata.LabelNames(s.Model.Head.Outputs);
        switch (data.Data)
        {
            case ClassificationData d:
                foreach (var logits in d.Predict(s.Model, batchSize)) yield return Prediction.FromLabelLogits(logits, labels).ToJson();
                break;
            case TokenClassificationData d:
                var tags = d.PredictTags(s.Model, labels, batchSize);
                for (int i = 0; i < tags.Length; i++) yield return new TagsPrediction(d.Features.Examples[i].Words, tags[i]).ToJson();
                break;
            case QaData d:
                var answers = d.Predict(s.Model, batchSize, data.SquadV2);
                for (int i = 0; i < answers.Length; i++) yield return Prediction.FromAnswer(d.Features.Examples[i].Id, answers[i]).ToJson();
                break;
            case ChoiceData d:
                foreach (var scores in d.Predict(s.Model, batchSize)) yield return Prediction.FromChoiceScores(scores).ToJson();
                break;
        }
    }
}
