using System.Text.Json;
using System.Text.Json.Nodes;
using FastPrefix.Data.Datasets;

namespace FastPrefix.Tests.Data.Datasets;

public sealed class SquadReaderTests : IDisposable
{
    readonly string dir = TestPaths.NewTempDir();
    public void Dispose() => Directory.Delete(dir, recursive: true);

    //                       0         1         2
    //                       012345678901234567890123456789
    const string Context = "Paris is the capital of France.";

    static JsonObject Squad(params JsonObject[] qas) => new()
    {
        ["version"] = "v2.0",
        ["data"] = new JsonArray(new JsonObject
        {
            ["title"] = "France",
            ["paragraphs"] = new JsonArray(
                new JsonObject { ["context"] = "Unrelated.", ["qas"] = new JsonArray() },
                new JsonObject { ["context"] = Context, ["qas"] = new JsonArray(qas) }),
        }),
    };

    static JsonObject Qa(string id, string question, params (string Text, int Start)[] answers) => new()
    {
        ["id"] = id,
        ["question"] = question,
        ["answers"] = new JsonArray(answers.Select(a => (JsonNode)new JsonObject { ["text"] = a.Text, ["answer_start"] = a.Start }).ToArray()),
    };

    string Write(string name, JsonNode json) => Write(name, json.ToJsonString(new JsonSerializerOptions
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    }));

    string Write(string name, string text)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Reads_v2_answerable_and_impossible_questions()
    {
        var impossible = Qa("q2", "What is the capital of Spain?");
        impossible["is_impossible"] = true;
        impossible["plausible_answers"] = new JsonArray(new JsonObject { ["text"] = "Paris", ["answer_start"] = 0 });
        var answerable = Qa("q1", "Of what is Paris the capital?", ("France", 24), ("France.", 24));
        answerable["is_impossible"] = false;
        var path = Write("dev-v2.0.json", Squad(answerable, impossible));

        var ex = SquadReader.Read(path);
        Assert.Equal(2, ex.Count);
        Assert.Equal("q1", ex[0].Id);
        Assert.Equal(Context, ex[0].Context);
        Assert.Equal("France", ex[0].Title);
        Assert.Equal([new QaAnswer("France", 24), new QaAnswer("France.", 24)], ex[0].Answers);
        Assert.False(ex[0].IsImpossible);
        Assert.True(ex[1].IsImpossible);
        Assert.Empty(ex[1].Answers);
    }

    [Fact]
    public void V1_questions_without_is_impossible_are_answerable()
    {
        var path = Write("dev-v1.1.json", Squad(Qa("q1", "Which city?", ("Paris", 0))));
        var q = Assert.Single(SquadReader.Read(path));
        Assert.False(q.IsImpossible);
        Assert.Equal(new QaAnswer("Paris", 0), Assert.Single(q.Answers));
    }

    [Fact]
    public void Answer_start_counts_code_points_and_becomes_a_utf16_index()
    {
        // Python: "😀 smile" -> '😀' is index 0, ' ' 1, 'smile' 2. In UTF-16 the emoji takes two chars -> 3.
        var doc = new JsonObject
        {
            ["data"] = new JsonArray(new JsonObject
            {
                ["title"] = "t",
                ["paragraphs"] = new JsonArray(new JsonObject
                {
                    ["context"] = "😀 smile please",
                    ["qas"] = new JsonArray(Qa("e", "What?", ("smile", 2))),
                }),
            }),
        };
        var q = Assert.Single(SquadReader.Read(Write("emoji.json", doc)));
        Assert.Equal(new QaAnswer("smile", 3), Assert.Single(q.Answers));
        Assert.Equal("smile", q.Context.Substring(3, 5));
    }

    [Fact]
    public void Misaligned_answer_names_file_and_json_path()
    {
        // "France" starts at 24, not 23
        var path = Write("bad.json", Squad(Qa("q1", "Which city?", ("Paris", 0)), Qa("q2", "Which country?", ("France", 23))));
        var ex = Assert.Throws<DatasetException>(() => SquadReader.Read(path));
        Assert.Contains("bad.json: data[0].paragraphs[1].qas[1].answers[0]: ", ex.Message);
        Assert.Equal("data[0].paragraphs[1].qas[1].answers[0]", ex.JsonPath);
        Assert.Contains("\" Franc\"", ex.Message); // what the context reads there
    }

    [Fact]
    public void Answer_start_outside_the_context_is_rejected()
    {
        var path = Write("range.json", Squad(Qa("q1", "Which?", ("France", 99))));
        var ex = Assert.Throws<DatasetException>(() => SquadReader.Read(path));
        Assert.Contains("range.json: data[0].paragraphs[1].qas[0].answers[0].answer_start: ", ex.Message);
    }

    [Fact]
    public void Duplicate_ids_and_missing_fields_are_rejected_with_their_path()
    {
        var dup = Write("dup.json", Squad(Qa("q1", "A?", ("Paris", 0)), Qa("q1", "B?", ("Paris", 0))));
        var ex = Assert.Throws<DatasetException>(() => SquadReader.Read(dup));
        Assert.Contains("dup.json: data[0].paragraphs[1].qas[1].id: ", ex.Message);
        Assert.Contains("data[0].paragraphs[1].qas[0]", ex.Message);

        var noQuestion = Qa("q1", "A?", ("Paris", 0));
        noQuestion.Remove("question");
        var missing = Write("missing.json", Squad(noQuestion));
        var ex2 = Assert.Throws<DatasetException>(() => SquadReader.Read(missing));
        Assert.Contains("missing.json: data[0].paragraphs[1].qas[0]: missing field \"question\"", ex2.Message);
    }

    [Fact]
    public void Impossible_question_with_answers_is_rejected()
    {
        var qa = Qa("q1", "A?", ("Paris", 0));
        qa["is_impossible"] = true;
        var path = Write("imp.json", Squad(qa));
        Assert.Contains("imp.json: data[0].paragraphs[1].qas[0].answers: ",
            Assert.Throws<DatasetException>(() => SquadReader.Read(path)).Message);
    }

    [Fact]
    public void Invalid_json_names_file_and_line()
    {
        var path = Write("broken.json", "{\n  \"data\": [\n    {\"title\": \"x\",, }\n  ]\n}\n");
        var ex = Assert.Throws<DatasetException>(() => SquadReader.Read(path));
        Assert.Contains("broken.json:3: ", ex.Message);
        Assert.Equal(3, ex.Line);
    }
}
