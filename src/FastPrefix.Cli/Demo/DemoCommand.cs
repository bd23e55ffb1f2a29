using System.CommandLine;
using System.Diagnostics;
using FastPrefix.Cli.Commands;
using FastPrefix.Data.Tasks;
using FastPrefix.Model;
using FastPrefix.Model.Heads;
using FastPrefix.Training;

namespace FastPrefix.Cli.Demo;

/// <summary>`fastprefix demo`: the whole flow on a built-in backbone and task, offline, in well under 3 minutes on 2 cores.</summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--output") { Description = "Folder for the demo backbone, data and trained adapter", DefaultValueFactory = _ => "fastprefix-demo" };
        var epochs = new Option<int>("--epochs") { Description = "Training epochs", DefaultValueFactory = _ => 6 };
        var command = new Command("demo", "Train a prefix on a built-in task with a small random backbone: no downloads, no arguments") { output, epochs };
        command.SetAction(p => CliErrors.Run(() => Execute(p.GetValue(output)!, p.GetValue(epochs), Console.Out)));
        return command;
    }

    public static int Execute(string folder, int epochs, TextWriter output)
    {
        // Everything that can be refused is refused before the first file is written.
        if (epochs <= 0) throw new UserInputException($"--epochs must be positive, got {epochs}");
        OutputFolder.MustNotBeAFile(folder, "--output");
        OutputFolder.Prepare(folder, "--output", 4 << 20);
        var clock = Stopwatch.StartNew();
        string backbone = Path.Combine(folder, "backbone"), run = Path.Combine(folder, "run");
        string train = Path.Combine(folder, "train.jsonl"), eval = Path.Combine(folder, "eval.jsonl");
        var c = DemoWorld.Config;
        output.WriteLine("FastPrefix demo: P-Tuning v2 on a frozen encoder.");
        output.WriteLine($"The backbone is NOT a pretrained model: it is a random {c.NumLayers}-layer BERT (hidden {c.HiddenSize}, {c.NumHeads} heads, " +
                         $"{DemoWorld.Vocabulary.Count}-word vocabulary) written to {backbone} as a Hugging Face checkpoint folder.");
        output.WriteLine("The task is built in: label short reviews positive/negative from their one opinion word. Only the prefix and the head train.");
        DemoWorld.WriteBackbone(backbone);
        DemoWorld.WriteDataset(train, 1200, seed: 1);
        DemoWorld.WriteDataset(eval, 300, seed: 2);

        int code = TrainCommand.Execute(new TrainRequest
        {
            ModelDir = backbone, Task = TaskKind.SequenceClassification, TrainPath = train, EvalPath = eval, OutputDir = run,
            PrefixLen = 8, Device = "cpu", Overwrite = true,   // the demo owns its folder: a second demo starts over
            Training = new TrainingOptions { Epochs = epochs, BatchSize = 16, LearningRate = 0.1, Seed = 42, LengthBucketing = true, WarmupRatio = 0.1 },
            Data = new TaskDataOptions { MaxSeqLength = 32 },
        }, output);
        if (code != 0) return code;

        output.WriteLine();
        output.WriteLine("A few predictions of the trained adapter:");
        string samples = Path.Combine(folder, "samples.jsonl");
        var rng = new Random(7);
        var reviews = Enumerable.Range(0, 5).Select(_ => DemoWorld.Review(rng)).ToArray();
        File.WriteAllLines(samples, reviews.Select(r => System.Text.Json.JsonSerializer.Serialize(new { sentence = r.Text })));
        var predictions = new StringWriter();
        PredictCommand.Execute(backbone, Path.Combine(run, TrainCommand.AdapterFileName), samples, 32, null, false, "cpu", TextReader.Null, predictions);
        var lines = predictions.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < reviews.Length; i++) output.WriteLine($"  \"{reviews[i].Text}\" -> {lines[i]}");
        output.WriteLine();
        output.WriteLine($"Done in {clock.Elapsed.TotalSeconds:F0} s. Files in {Path.GetFullPath(folder)}: backbone/, run/adapter.safetensors, run/metrics.jsonl, run/curves.png.");
        output.WriteLine($"Next: fastprefix eval --model {backbone} --adapter {Path.Combine(run, TrainCommand.AdapterFileName)} --data {eval}");
        return 0;
    }
}
