using System.CommandLine;
using System.Diagnostics;
using FastPrefix.Cli.Commands;
using FastPrefix.Data.Tasks;
using FastPrefix.Model;
using FastPrefix.Model.Heads;
using FastPrefix.Onnx.Export;
using FastPrefix.Training;

namespace FastPrefix.Cli.Demo;

/// <summary>`fastprefix demo`: the whole flow — (import,) train, predict, export to ONNX — on a built-in task, offline, in under a minute on 2 cores.</summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--output") { Description = "Folder for the demo backbone, data and trained adapter", DefaultValueFactory = _ => "fastprefix-demo" };
        var epochs = new Option<int?>("--epochs") { Description = "Training epochs (default: 2 on a pretrained encoder, 6 on the random one)" };
        var backbone = new Option<string>("--backbone")
        {
            Description = "auto (all-MiniLM-L6-v2 if its NuGet package was restored, else random) | minilm | random | an .onnx encoder file",
            DefaultValueFactory = _ => DemoBackbones.Auto,
        };
        var command = new Command("demo", "Train a prefix on a built-in task, offline: on all-MiniLM-L6-v2 when its package is there, else on a small random backbone")
        {
            output, epochs, backbone,
        };
        command.SetAction(p => CliErrors.Run(() => Execute(p.GetValue(output)!, p.GetValue(epochs), p.GetValue(backbone)!, Console.Out)));
        return command;
    }

    public static int Execute(string folder, int? epochs, string backboneChoice, TextWriter output)
    {
        // Everything that can be refused is refused before the first file is written.
        if (epochs <= 0) throw new UserInputException($"--epochs must be positive, got {epochs}");
        OutputFolder.MustNotBeAFile(folder, "--output");
        string? source = DemoBackbones.Resolve(backboneChoice);
        OutputFolder.Prepare(folder, "--output", DemoBackbones.BytesNeeded(source));
        var clock = Stopwatch.StartNew();
        string run = Path.Combine(folder, "run");
        string train = Path.Combine(folder, "train.jsonl"), eval = Path.Combine(folder, "eval.jsonl");
        output.WriteLine("FastPrefix demo: P-Tuning v2 on a frozen encoder.");
        var chosen = DemoBackbones.Prepare(source, backboneChoice, folder, output);
        string backbone = chosen.Folder;
        output.WriteLine("The task is built in: label short reviews positive/negative from their one opinion word. Only the prefix and the head train.");
        DemoWorld.WriteDataset(train, 1200, seed: 1);
        DemoWorld.WriteDataset(eval, 300, seed: 2);

        int code = TrainCommand.Execute(new TrainRequest
        {
            ModelDir = backbone, Task = TaskKind.SequenceClassification, TrainPath = train, EvalPath = eval, OutputDir = run,
            PrefixLen = 8, Device = "cpu", Overwrite = true,   // the demo owns its folder: a second demo starts over
            Training = new TrainingOptions { Epochs = epochs ?? chosen.Epochs, BatchSize = 16, LearningRate = chosen.LearningRate, Seed = 42, LengthBucketing = true, WarmupRatio = 0.1 },
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
        string onnx = Path.Combine(run, "model.onnx");
        var exported = OnnxExporter.Export(backbone, [Path.Combine(run, TrainCommand.AdapterFileName)], onnx);
        output.WriteLine($"Exported encoder + prefix + head to {onnx} for ONNX Runtime (inputs {string.Join(", ", exported.Inputs)}; output {string.Join(", ", exported.Outputs)}).");
        output.WriteLine($"Done in {clock.Elapsed.TotalSeconds:F0} s on the {(chosen.Pretrained ? "pretrained" : "random")} backbone. Files in {Path.GetFullPath(folder)}: " +
                         "backbone/, run/adapter.safetensors, run/model.onnx, run/metrics.jsonl, run/curves.png.");
        output.WriteLine($"Next: fastprefix eval --model {backbone} --adapter {Path.Combine(run, TrainCommand.AdapterFileName)} --data {eval}");
        return 0;
    }
}
