using System.Diagnostics;
using System.Text.Json;
using FastPrefix.Adapters;
using FastPrefix.IO;
using FastPrefix.Tests.Cli;

namespace FastPrefix.Tests.Hardening;

/// <summary>
/// Every user mistake a new user tried (issue 8): exit 2 and one line naming the file, line or option, checked in the
/// right order, before anything is written; Ctrl+C is 130; a full disk keeps the last good checkpoint.
/// </summary>
public sealed class CliMistakesTests : IDisposable
{
    readonly string _model = CliModelFolder.Create("tiny-bert-a");   // 32 positions, 2 layers, hidden 32
    readonly string _dir = TestPaths.NewTempDir();
    public void Dispose() { try { Directory.Delete(_dir, true); Directory.Delete(_model, true); } catch (IOException) { } }

    string P(string name) => Path.Combine(_dir, name);

    string TrainData(string name = "train.jsonl", int rows = 16)
    {
        File.WriteAllLines(P(name), Enumerable.Range(0, rows).Select(i => JsonSerializer.Serialize(new { sentence = i % 2 == 0 ? "good film" : "bad book", label = i % 2 == 0 ? "pos" : "neg" })));
        return P(name);
    }

    static readonly string[] Flags = ["--overwrite", "--resume", "--force"];

    /// <summary>A small seqcls training command; <paramref name="changes"/> replaces or adds options ("--epochs", "3", "--resume", ...).</summary>
    string[] Train(params string[] changes)
    {
        var options = new List<(string Name, string? Value)>
        {
            ("--model", _model), ("--task", "seqcls"), ("--train", TrainData()), ("--output", P("run")), ("--device", "cpu"),
            ("--max-seq-length", "16"), ("--batch-size", "4"), ("--prefix-len", "2"), ("--epochs", "1"),
        };
        for (int i = 0; i < changes.Length; i++)
        {
            string name = changes[i];
            string? value = Flags.Contains(name) ? null : changes[++i];
            int at = options.FindIndex(o => o.Name == name);
            if (at >= 0) options[at] = (name, value); else options.Add((name, value));
        }
        return ["train", .. options.SelectMany(o => o.Value == null ? new[] { o.Name } : [o.Name, o.Value])];
    }

    static void OneLineExit2(CliRunner.Result r, params string[] expected)
    {
        Assert.True(r.ExitCode == 2, $"exit {r.ExitCode}\n{r.StdErr}\n{r.StdOut}");
        var lines = r.StdErr.Trim().Split('\n');
        Assert.True(lines.Length == 1, r.StdErr);
        Assert.StartsWith("error: ", lines[0]);
        foreach (var e in expected) Assert.Contains(e, lines[0]);
    }

    [Fact]
    public void Train_output_naming_a_file_is_exit_2()
    {
        File.WriteAllText(P("out.txt"), "x");
        OneLineExit2(CliRunner.Run(Train("--output", P("out.txt"))), "--output", "is a file");
    }

    [Fact]
    public void Patience_without_eval_is_exit_2_and_creates_nothing()
    {
        OneLineExit2(CliRunner.Run(Train("--patience", "2")), "--patience", "--eval");
        Assert.False(Directory.Exists(P("run")));
    }

    [Fact]
    public void A_missing_train_file_is_reported_before_the_max_seq_length()
    {
        // default --max-seq-length 128 does not fit the 32 positions, but the missing file is the first problem
        var r = CliRunner.Run("train", "--model", _model, "--task", "seqcls", "--train", P("nope.jsonl"), "--output", P("run"), "--device", "cpu");
        OneLineExit2(r, "--train", "nope.jsonl", "not found");
        File.WriteAllLines(P("bad.jsonl"), ["{\"sentence\": \"a\", \"label\": \"x\"}", "{broken"]);
        r = CliRunner.Run("train", "--model", _model, "--task", "seqcls", "--train", P("bad.jsonl"), "--output", P("run"), "--device", "cpu");
        OneLineExit2(r, "bad.jsonl:2");
    }

    [Fact]
    public void Max_seq_length_message_counts_the_prefix_positions()
    {
        var r = CliRunner.Run(Train("--max-seq-length", "24", "--prefix-len", "10", "--positions", "after-prefix"));
        OneLineExit2(r, "--max-seq-length 24", "max_position_embeddings 32 - 10 prefix positions", "= 22");
    }

    [Fact]
    public void Qa_without_doc_stride_chooses_one_that_fits_and_says_so()
    {
        string ctx = "john lives in paris and mary lives in london because the sun is warm so the ground is dry and the sky is blue";
        string squad = $$"""{"data": [{"title": "t", "paragraphs": [{"context": "{{ctx}}", "qas": [{"id": "q1", "question": "where does john live ?", "answers": [{"text": "paris", "answer_start": {{ctx.IndexOf("paris", StringComparison.Ordinal)}}}]}]}]}]}""";
        File.WriteAllText(P("squad.json"), squad);
        string[] Args(string output) => ["train", "--model", _model, "--task", "qa", "--train", P("squad.json"), "--output", P(output), "--device", "cpu", "--max-seq-length", "24", "--epochs", "1", "--prefix-len", "2"];
        var r = CliRunner.Run(Args("qa"));
        Assert.True(r.ExitCode == 0, r.StdErr + r.StdOut);
        Assert.Contains("note: --doc-stride not set: using ", r.StdOut);
        OneLineExit2(CliRunner.Run([.. Args("qa2"), "--doc-stride", "20"]), "--doc-stride 20");
    }

    [Fact]
    public void Mixed_label_types_are_refused_with_the_line()
    {
        File.WriteAllLines(P("mixed.jsonl"), ["{\"sentence\": \"a\", \"label\": \"positive\"}", "{\"sentence\": \"b\", \"label\": \"negative\"}", "{\"sentence\": \"c\", \"label\": 1}"]);
        OneLineExit2(CliRunner.Run(Train("--train", P("mixed.jsonl"))), "mixed.jsonl:3", "\"1\" is an integer", "line 1");
    }

    [Fact]
    public void Rerunning_into_a_finished_run_needs_resume_or_overwrite()
    {
        Assert.Equal(0, CliRunner.Run(Train()).ExitCode);
        OneLineExit2(CliRunner.Run(Train()), "already holds a training run", "--resume", "--overwrite");
        var r = CliRunner.Run(Train("--overwrite"));
        Assert.True(r.ExitCode == 0, r.StdErr);
        OneLineExit2(CliRunner.Run(Train("--overwrite", "--resume")), "--resume and --overwrite");
    }

    [Fact]
    public void Huge_prefix_says_what_it_costs_and_needs_force()
    {
        OneLineExit2(CliRunner.Run(Train("--prefix-len", "100000")), "--prefix-len 100000", "trainable values", "--force");
        Assert.False(Directory.Exists(P("run")));
        var ok = CliRunner.Run(Train());
        Assert.Contains("prefix of 2: 322 trainable values; training needs about", ok.StdOut);
    }

    [Fact]
    public void Demo_with_zero_epochs_writes_nothing()
    {
        OneLineExit2(CliRunner.Run("demo", "--epochs", "0", "--output", P("demo")), "--epochs");
        Assert.False(Directory.Exists(P("demo")));
    }

    [Fact]
    public void Peft_outputs_must_be_folders_and_from_zero_export_needs_force()
    {
        Assert.Equal(0, CliRunner.Run(Train()).ExitCode);
        string adapter = P("run");   // --adapter takes the run folder too
        File.WriteAllText(P("file"), "x");
        OneLineExit2(CliRunner.Run("peft", "export", "--model", _model, "--adapter", adapter, "--output", P("file"), "--force"), "--output", "is a file");
        OneLineExit2(CliRunner.Run("peft", "export", "--model", _model, "--adapter", adapter, "--output", P("peft")), "from-zero", "--force");
        var forced = CliRunner.Run("peft", "export", "--model", _model, "--adapter", adapter, "--output", P("peft"), "--force");
        Assert.Equal(0, forced.ExitCode);
        Assert.Contains("warning: ", forced.StdErr);
        OneLineExit2(CliRunner.Run("peft", "import", "--model", _model, "--peft", P("peft"), "--output", P("file")), "--output", "is a file");

        // import keeps what the folder records (max length 16, from-zero) unless asked
        Assert.Equal(0, CliRunner.Run("peft", "import", "--model", _model, "--peft", P("peft"), "--output", P("imported")).ExitCode);
        var meta = AdapterFile.Read(Path.Combine(P("imported"), "adapter.safetensors")).Metadata;
        Assert.Equal((16, FastPrefix.Model.PositionMode.FromZero), (meta.MaxSeqLength, meta.Positions));
        Assert.Equal(0, CliRunner.Run("peft", "import", "--model", _model, "--peft", P("peft"), "--output", P("imported2"), "--positions", "after-prefix").ExitCode);
        Assert.Equal(FastPrefix.Model.PositionMode.AfterPrefix, AdapterFile.Read(Path.Combine(P("imported2"), "adapter.safetensors")).Metadata.Positions);
        OneLineExit2(CliRunner.Run("peft", "import", "--model", _model, "--peft", P("peft"), "--output", P("imported3"), "--max-seq-length", "128"),
            "--max-seq-length 128", "max_position_embeddings 32");
    }

    [Fact]
    public void Adapter_max_seq_length_beyond_the_positions_is_refused_at_load()
    {
        Assert.Equal(0, CliRunner.Run(Train()).ExitCode);
        string bad = P("bad.safetensors");
        Adapters.AdapterTestKit.Rewrite(Path.Combine(P("run"), "adapter.safetensors"), bad, metadata: m => m[AdapterMetadata.Keys.MaxSeqLength] = "64");
        File.WriteAllText(P("long.jsonl"), JsonSerializer.Serialize(new { sentence = string.Join(' ', Enumerable.Repeat("good", 60)) }) + "\n");
        OneLineExit2(CliRunner.Run("predict", "--model", _model, "--adapter", bad, "--data", P("long.jsonl")),
            "bad.safetensors", "'fastprefix.max_seq_length' is 64", "max_position_embeddings 32");
    }

    [Fact]
    public void Stdin_is_named_stdin_and_device_notes_go_to_stderr()
    {
        var first = CliRunner.Run(Train("--device", "auto"));
        Assert.True(first.ExitCode == 0, first.StdErr);
        var r = CliRunner.RunWithInput("{\"sentence\": \"ok\"}\n{broken\n", "predict", "--model", _model, "--adapter", P("run"), "--data", "-", "--device", "cpu");
        OneLineExit2(r, "error: stdin:2:");
        var t = CliRunner.Run(Train("--device", "auto", "--output", P("run2")));
        Assert.DoesNotContain("CPU backend", t.StdOut);
        Assert.Contains("CPU backend", t.StdErr);
    }

    [Fact]
    public void Ctrl_c_exits_130_with_a_resumable_checkpoint_and_help_says_so()
    {
        Assert.Contains("130", CliRunner.Run("--help").StdOut);
        Assert.Contains("130", CliRunner.Run("train", "--help").StdOut);
        using var p = CliRunner.Start(Train("--epochs", "500", "--batch-size", "2"));
        p.StandardInput.Close();
        var stdout = new System.Text.StringBuilder();
        var started = new ManualResetEventSlim();
        p.OutputDataReceived += (_, e) => { if (e.Data == null) return; lock (stdout) stdout.AppendLine(e.Data); if (e.Data.StartsWith("epoch ")) started.Set(); };
        p.BeginOutputReadLine();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(started.Wait(TimeSpan.FromMinutes(2)), "training did not start");
        using (var kill = Process.Start("kill", ["-INT", p.Id.ToString()])) kill.WaitForExit();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(2)));
        p.WaitForExit();
        Assert.True(p.ExitCode == 130, $"exit {p.ExitCode}: {stderr.Result}\n{stdout}");
        Assert.Contains("--resume", stdout.ToString());
        using var checkpoint = SafetensorsFile.Open(Path.Combine(P("run"), "checkpoint.safetensors"));
    }

    [Fact]
    public void A_read_only_output_is_exit_2_before_training()
    {
        using var fs = SmallFilesystem.Mount(1024, readOnly: true);
        OneLineExit2(CliRunner.Run(Train("--output", Path.Combine(fs.Path, "run"))), "--output", "not writable");
    }

    [Fact]
    public void A_full_disk_is_exit_2_before_training()
    {
        using var fs = SmallFilesystem.Mount(1024);
        string filler = fs.FillUntil(() => new DriveInfo(fs.Path).AvailableFreeSpace == 0, TimeSpan.FromSeconds(30));
        OneLineExit2(CliRunner.Run(Train("--output", Path.Combine(fs.Path, "run"))), "--output", "no space left");
        File.Delete(filler);
    }
}
