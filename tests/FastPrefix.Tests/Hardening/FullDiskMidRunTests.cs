using System.Text;
using System.Text.Json;
using FastPrefix.Cli;
using FastPrefix.Cli.Commands;
using FastPrefix.Data.Tasks;
using FastPrefix.Model.Heads;
using FastPrefix.Tests.Cli;
using FastPrefix.Tests.Training;
using FastPrefix.Training;

namespace FastPrefix.Tests.Hardening;

/// <summary>
/// A disk that fills up mid-run (issue 8, item 5): the next checkpoint write fails with "no space", the last good
/// checkpoint stays (it is replaced only by a rename of a complete file), the CLI says so in one line with exit 2 and
/// tells how to resume, and resuming once there is room again finishes the run. The disk is a small tmpfs filled from
/// the run's own epoch-end callback, on the training thread, so the failure always hits the same write (no filler
/// process racing the run). Mounting needs root; elsewhere the tests skip with the reason.
/// </summary>
public sealed class FullDiskMidRunTests : IDisposable
{
    readonly List<IDisposable> _disks = [];
    readonly List<string> _folders = [];

    public void Dispose()
    {
        foreach (var d in _disks) d.Dispose();
        foreach (var f in _folders) try { Directory.Delete(f, true); } catch (IOException) { }
    }

    SmallFilesystem Disk(int kilobytes)
    {
        var fs = SmallFilesystem.Mount(kilobytes);
        _disks.Add(fs);
        return fs;
    }

    /// <summary>Fills the disk to the last byte; returns the filler file (delete it to make room again).</summary>
    static string Fill(SmallFilesystem fs)
    {
        string filler = fs.FillUntil(() => new DriveInfo(fs.Path).AvailableFreeSpace == 0, TimeSpan.FromSeconds(30));
        Assert.Equal(0, new DriveInfo(fs.Path).AvailableFreeSpace);
        return filler;
    }

    static TrainingOptions Options(string dir) => new()
    {
        Epochs = 3, BatchSize = 8, LearningRate = 0.05, WarmupRatio = 0.2, WeightDecay = 0.01f, Seed = 9, OutputDir = dir, LengthBucketing = true,
    };

    static float[] Values(FastPrefix.Model.PTuningModel model) => [.. model.Parameters.SelectMany(p => p.Download())];

    [Fact]
    public void Trainer_keeps_the_last_good_checkpoint_when_the_next_write_finds_the_disk_full_and_resumes_from_it()
    {
        var fs = Disk(2048);
        string dir = Path.Combine(fs.Path, "run");
        var data = new ToyTask(24, seed: 2);

        using var model = ToyTask.BuildModel();
        var trainer = new Trainer(model, data, Options(dir), data);
        string? filler = null;
        trainer.EpochCompleted += e => { if (e.Epoch == 1) filler = Fill(fs); };
        var error = Assert.ThrowsAny<IOException>(() => trainer.Run());

        Assert.NotNull(filler);
        Assert.True(OutputFolder.IsDiskFull(error), $"{error.GetType().Name} (HResult {error.HResult}): {error.Message}");
        var kept = TrainingCheckpoint.Load(trainer.CheckpointPath!);
        Assert.Equal(1, kept.EpochsCompleted);
        Assert.Equal(trainer.StepsPerEpoch, kept.GlobalStep);
        Assert.Single(kept.History);
        // No half-written temporary file beside it: only epoch 1's checkpoint, log and curves.
        Assert.Equal(new[] { TrainingCheckpoint.FileName, CurvesPlot.FileName, MetricsLog.FileName }.Order(StringComparer.Ordinal),
            Directory.GetFiles(dir).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal));

        File.Delete(filler!);
        using var resumedModel = ToyTask.BuildModel();
        var resumed = new Trainer(resumedModel, data, Options(dir), data).Run(resume: true);
        Assert.True(resumed.Completed);
        Assert.Equal(3 * trainer.StepsPerEpoch, resumed.Steps);

        string elsewhere = TestPaths.NewTempDir();
        try
        {
            using var uninterrupted = ToyTask.BuildModel();
            new Trainer(uninterrupted, data, Options(elsewhere), data).Run();
            Assert.Equal(Values(uninterrupted), Values(resumedModel));   // the kept checkpoint was a good one
        }
        finally { Directory.Delete(elsewhere, true); }
    }

    [Fact]
    public void Cli_train_says_in_one_line_with_exit_2_that_the_disk_is_full_and_how_to_resume()
    {
        if (ProgressRenderer.Interactive)
            Assert.Skip("standard output is a terminal here, so the CLI draws a live progress bar instead of the lines this test watches");
        var fs = Disk(4096);   // the CLI wants about 2 MB free before it starts
        string model = CliModelFolder.Create("tiny-bert-a");
        _folders.Add(model);
        string folder = TestPaths.NewTempDir();
        _folders.Add(folder);
        string data = Path.Combine(folder, "train.jsonl");
        File.WriteAllLines(data, Enumerable.Range(0, 16).Select(i =>
            JsonSerializer.Serialize(new { sentence = i % 2 == 0 ? "good film" : "bad book", label = i % 2 == 0 ? "pos" : "neg" })));
        string run = Path.Combine(fs.Path, "run");
        TrainRequest Request(bool resume) => new()
        {
            ModelDir = model, Task = TaskKind.SequenceClassification, TrainPath = data, OutputDir = run, Device = "cpu", PrefixLen = 2, Resume = resume,
            Training = new TrainingOptions { Epochs = 3, BatchSize = 4, LearningRate = 1e-2, Seed = 1, LengthBucketing = true },
            Data = new TaskDataOptions { MaxSeqLength = 16 },
        };

        // The CLI prints "epoch 1 done: ..." from the trainer's epoch-end event, after epoch 1's checkpoint is written.
        string? filler = null;
        var output = new LineWatcher(line => { if (line.StartsWith("epoch 1 done", StringComparison.Ordinal)) filler = Fill(fs); });
        var errors = new StringWriter();
        int exit = CliErrors.Run(() => TrainCommand.Execute(Request(resume: false), output), errors);

        Assert.True(filler != null, "the CLI never printed epoch 1's line to its output: " + output);
        Assert.True(exit == CliErrors.BadInput, $"exit {exit}: {errors}\n{output}");
        var lines = errors.ToString().Trim().Split('\n');
        Assert.True(lines.Length == 1, errors.ToString());
        string checkpoint = Path.Combine(run, TrainingCheckpoint.FileName);
        Assert.Equal($"error: {run}: no space left on the device while writing the run; the last good checkpoint is kept in {checkpoint}: " +
                     "free some space and run the same command with --resume to continue", lines[0]);
        Assert.Equal(4, TrainingCheckpoint.Load(checkpoint).GlobalStep);   // epoch 1: 16 rows, batch 4

        // Doing what it says works.
        File.Delete(filler!);
        var resumedOutput = new StringWriter();
        Assert.Equal(CliErrors.Ok, CliErrors.Run(() => TrainCommand.Execute(Request(resume: true), resumedOutput), errors));
        Assert.Contains("adapter written to", resumedOutput.ToString());
        Assert.Equal(12, TrainingCheckpoint.Load(checkpoint).GlobalStep);
    }

    /// <summary>Keeps what is written and calls <paramref name="onLine"/> with each completed line (every TextWriter write ends in Write(char)).</summary>
    sealed class LineWatcher(Action<string> onLine) : TextWriter
    {
        readonly StringBuilder _all = new(), _line = new();

        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value)
        {
            _all.Append(value);
            if (value != '\n') { _line.Append(value); return; }
            string line = _line.ToString().TrimEnd('\r');
            _line.Clear();
            onLine(line);
        }

        public override string ToString() => _all.ToString();
    }
}
