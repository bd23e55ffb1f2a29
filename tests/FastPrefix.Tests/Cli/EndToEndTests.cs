using System.Text.Json;

namespace FastPrefix.Tests.Cli;

/// <summary>train → eval → predict through the real `fastprefix` program, for every task type, in temporary folders.</summary>
public class EndToEndTests
{
    readonly string _model = CliModelFolder.Create();
    readonly string _dir = TestPaths.NewTempDir();

    string P(string name) => Path.Combine(_dir, name);

    static CliRunner.Result Ok(params string[] args) => CliRunner.Succeeds(args);

    static JsonElement LastJson(string stdout) => JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;

    void TrainEvalPredict(string task, string train, string eval, string predictInput, Action<JsonElement> checkMetrics, Action<string[]> checkPredictions, params string[] extra)
    {
        string maxLen = CliModelFolder.MaxLen(_model).ToString();
        var r = Ok(["train", "--model", _model, "--task", task, "--train", train, "--eval", eval, "--output", P("run"),
            "--epochs", "2", "--batch-size", "4", "--prefix-len", "3", "--max-seq-length", maxLen, "--device", "cpu", .. extra]);
        Assert.True(File.Exists(P("run/adapter.safetensors")));
        Assert.Equal(2, File.ReadAllLines(P("run/metrics.jsonl")).Length);
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47 }, File.ReadAllBytes(P("run/curves.png"))[..4]);
        Assert.Contains("best evaluation", r.StdOut);

        var e = Ok("eval", "--model", _model, "--adapter", P("run/adapter.safetensors"), "--data", eval, "--device", "cpu");
        checkMetrics(LastJson(e.StdOut));

        var p = Ok("predict", "--model", _model, "--adapter", P("run/adapter.safetensors"), "--data", predictInput, "--device", "cpu");
        checkPredictions(p.StdOut.Trim().Split('\n'));
    }

    [Fact]
    public void Sequence_classification()
    {
        var rows = Enumerable.Range(0, 24).Select(i => i % 2 == 0 ? new { sentence = "the film was good", label = "pos" } : new { sentence = "the book was awful", label = "neg" });
        File.WriteAllLines(P("train.jsonl"), rows.Select(r => JsonSerializer.Serialize(r)));
        File.WriteAllLines(P("dev.csv"), ["sentence,label", "the film was great,pos", "\"a book, bad\",neg"]);
        File.WriteAllLines(P("in.jsonl"), [JsonSerializer.Serialize(new { sentence = "good film" }), JsonSerializer.Serialize(new { sentence = "awful" })]);
        TrainEvalPredict("seqcls", P("train.jsonl"), P("dev.csv"), P("in.jsonl"),
            m => Assert.InRange(m.GetProperty("accuracy").GetDouble(), 0, 1),
            lines =>
            {
                Assert.Equal(2, lines.Length);
                foreach (var l in lines)
                {
                    var j = JsonDocument.Parse(l).RootElement;
                    Assert.Contains(j.GetProperty("label").GetString(), new[] { "neg", "pos" });
                    Assert.Equal(1.0, j.GetProperty("scores").EnumerateObject().Sum(s => s.Value.GetDouble()), 4);
                }
            });
        // stdin works for seqcls
        var piped = CliRunner.RunWithInput("{\"sentence\": \"the film\"}\n", "predict", "--model", _model, "--adapter", P("run/adapter.safetensors"), "--data", "-");
        Assert.Equal(0, piped.ExitCode);
        Assert.Single(piped.StdOut.Trim().Split('\n'));
    }

    [Fact]
    public void Token_classification()
    {
        string conll = "-DOCSTART- O\n\njohn B-PER\nlives O\nin O\nparis B-LOC\n\nmary B-PER\nlives O\nin O\nlondon B-LOC\n";
        File.WriteAllText(P("train.conll"), string.Concat(Enumerable.Repeat(conll.Replace("-DOCSTART- O\n\n", "") + "\n", 6)));
        File.WriteAllText(P("dev.conll"), conll);
        TrainEvalPredict("tokcls", P("train.conll"), P("dev.conll"), P("dev.conll"),
            m => { foreach (var k in new[] { "precision", "recall", "f1" }) Assert.InRange(m.GetProperty(k).GetDouble(), 0, 1); },
            lines =>
            {
                Assert.Equal(2, lines.Length);
                var j = JsonDocument.Parse(lines[0]).RootElement;
                Assert.Equal(["john", "lives", "in", "paris"], j.GetProperty("words").EnumerateArray().Select(w => w.GetString()!));
                Assert.Equal(4, j.GetProperty("tags").GetArrayLength());
            });
    }

    [Fact]
    public void Question_answering()
    {
        object Para(string ctx, string q, string answer, string id) => new
        {
            context = ctx,
            qas = new[] { new { id, question = q, answers = new[] { new { text = answer, answer_start = ctx.IndexOf(answer, StringComparison.Ordinal) } } } },
        };
        var squad = new
        {
            version = "1.1",
            data = new[] { new { title = "t", paragraphs = new[] { Para("john lives in paris .", "where does john lives ?", "paris", "q1"), Para("mary lives in london .", "who lives in london ?", "mary", "q2") } } },
        };
        File.WriteAllText(P("squad.json"), JsonSerializer.Serialize(squad));
        TrainEvalPredict("qa", P("squad.json"), P("squad.json"), P("squad.json"),
            m => { Assert.InRange(m.GetProperty("exact_match").GetDouble(), 0, 100); Assert.InRange(m.GetProperty("f1").GetDouble(), 0, 100); },
            lines =>
            {
                Assert.Equal(2, lines.Length);
                var j = JsonDocument.Parse(lines[0]).RootElement;
                Assert.Equal("q1", j.GetProperty("id").GetString());
                string answer = j.GetProperty("answer").GetString()!;
                int start = j.GetProperty("start").GetInt32(), end = j.GetProperty("end").GetInt32();
                Assert.Equal("john lives in paris .".Substring(start, end - start), answer);
            }, "--doc-stride", "4");
    }

    [Fact]
    public void Multiple_choice()
    {
        var rows = Enumerable.Range(0, 12).Select(i => JsonSerializer.Serialize(new { premise = "the ground is wet", question = "cause", choice1 = i % 2 == 0 ? "rain" : "sun", choice2 = i % 2 == 0 ? "sun" : "rain", label = i % 2 }));
        File.WriteAllLines(P("copa.jsonl"), rows);
        TrainEvalPredict("mc", P("copa.jsonl"), P("copa.jsonl"), P("copa.jsonl"),
            m => Assert.InRange(m.GetProperty("accuracy").GetDouble(), 0, 1),
            lines =>
            {
                Assert.Equal(12, lines.Length);
                var j = JsonDocument.Parse(lines[0]).RootElement;
                Assert.Equal(2, j.GetProperty("scores").GetArrayLength());
            });
    }

    [Fact]
    public void Training_is_deterministic_and_peft_round_trips()
    {
        File.WriteAllLines(P("train.jsonl"), Enumerable.Range(0, 16).Select(i => JsonSerializer.Serialize(new { sentence = i % 2 == 0 ? "good film" : "bad book", label = i % 2 == 0 ? "pos" : "neg" })));
        string[] Train(string output) => ["train", "--model", _model, "--task", "seqcls", "--train", P("train.jsonl"), "--eval", P("train.jsonl"), "--output", P(output),
            "--epochs", "2", "--batch-size", "4", "--prefix-len", "2", "--max-seq-length", "16", "--device", "cpu", "--seed", "7"];
        Ok(Train("a"));
        Ok(Train("b"));
        Assert.Equal(File.ReadAllBytes(P("a/adapter.safetensors")), File.ReadAllBytes(P("b/adapter.safetensors")));

        Ok("peft", "export", "--model", _model, "--adapter", P("a/adapter.safetensors"), "--output", P("peft"), "--force");   // a from-zero adapter
        Assert.True(File.Exists(P("peft/adapter_config.json")) && File.Exists(P("peft/adapter_model.safetensors")));
        Ok("peft", "import", "--model", _model, "--peft", P("peft"), "--output", P("imported"), "--labels", "neg,pos", "--max-seq-length", "16");
        string Eval(string adapter) => LastJson(Ok("eval", "--model", _model, "--adapter", adapter, "--data", P("train.jsonl")).StdOut).GetRawText();
        Assert.Equal(Eval(P("a/adapter.safetensors")), Eval(P("imported")));
    }

    [Fact]
    public void Bad_data_names_file_and_line_and_exits_2()
    {
        File.WriteAllLines(P("bad.jsonl"), ["{\"sentence\": \"ok\", \"label\": \"a\"}", "{\"sentence\": \"ok\", \"label\": \"b\"}", "{not json"]);
        var r = CliRunner.Run("train", "--model", _model, "--task", "seqcls", "--train", P("bad.jsonl"), "--output", P("run"), "--device", "cpu");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("bad.jsonl:3", r.StdErr);
        Assert.DoesNotContain("   at ", r.StdErr);
    }

    [Fact]
    public void Unknown_label_in_evaluation_data_is_an_error()
    {
        File.WriteAllLines(P("train.jsonl"), Enumerable.Range(0, 8).Select(i => JsonSerializer.Serialize(new { sentence = "good", label = i % 2 == 0 ? "pos" : "neg" })));
        File.WriteAllLines(P("dev.jsonl"), [JsonSerializer.Serialize(new { sentence = "x", label = "pos" }), JsonSerializer.Serialize(new { sentence = "y", label = "maybe" })]);
        var r = CliRunner.Run("train", "--model", _model, "--task", "seqcls", "--train", P("train.jsonl"), "--eval", P("dev.jsonl"), "--output", P("run"), "--device", "cpu", "--max-seq-length", "16");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("dev.jsonl:2", r.StdErr);
        Assert.Contains("maybe", r.StdErr);
    }

    [Fact]
    public void Option_errors_exit_2()
    {
        Assert.Equal(2, CliRunner.Run("train", "--task", "seqcls").ExitCode);                     // --model etc. missing
        var r = CliRunner.Run("train", "--model", _model, "--task", "nope", "--train", "x", "--output", P("o"));
        Assert.Equal(2, r.ExitCode);
        File.WriteAllLines(P("t.jsonl"), ["{\"sentence\": \"a\", \"label\": 0}", "{\"sentence\": \"b\", \"label\": 1}"]);
        r = CliRunner.Run("train", "--model", _model, "--task", "seqcls", "--train", P("t.jsonl"), "--output", P("o"), "--device", "cuda");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--device cuda", r.StdErr);
        r = CliRunner.Run("train", "--model", _model, "--task", "seqcls", "--train", P("t.jsonl"), "--output", P("o"), "--resume", "--device", "cpu", "--max-seq-length", "16");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--resume", r.StdErr);
    }

    [Fact]
    public void Tokenize_prints_tokens_ids_and_offsets()
    {
        var r = CliRunner.RunWithInput("The film, good\n", "tokenize", "--model", _model);
        Assert.Equal(0, r.ExitCode);
        Assert.Matches(@"film\s+\d+\s+\[4, 8\)", r.StdOut);
        Assert.Matches(@",\s+\d+\s+\[8, 9\)", r.StdOut);
    }
}
