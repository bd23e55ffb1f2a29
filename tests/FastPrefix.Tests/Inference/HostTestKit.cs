using System.Text.Json;
using FastPrefix.Adapters;
using FastPrefix.Model;
using FastPrefix.Model.Heads;
using FastPrefix.Tests.Adapters;
using FastPrefix.Tests.Cli;

namespace FastPrefix.Tests.Inference;

/// <summary>
/// A backbone folder with a vocabulary (the CLI tests' tiny BERT) and adapters with random prefixes and heads written
/// as adapter files, plus one input record of each task in both forms: predict's file and the host's JSON record.
/// </summary>
internal sealed class HostTestKit : IDisposable
{
    public const int MaxLen = 24;
    public string Model { get; } = CliModelFolder.Create();
    public TempDir Dir { get; } = new();

    public static readonly string[] SeqLabels = ["neg", "pos", "neutral"], Tags = ["O", "B-PER", "B-LOC", "I-LOC"];

    /// <summary>Writes an adapter file with random values (seed) and returns its path.</summary>
    public string Adapter(string name, TaskKind kind, int prefixLen = 3, int firstLayer = 0, PositionMode positions = PositionMode.FromZero,
        bool mlp = false, int seed = 100, string? model = null)
    {
        model ??= Model;
        using var encoder = AdapterTestKit.LoadEncoder(model);
        using var m = AdapterTestKit.NewModel(encoder, kind, mlp, firstLayer, positions, prefixLen, seed);
        string[] labels = kind switch { TaskKind.SequenceClassification => SeqLabels, TaskKind.TokenClassification => Tags, _ => [] };
        var extra = kind == TaskKind.QuestionAnswering ? new Dictionary<string, string> { ["doc_stride"] = "4" } : null;
        string path = Dir[name + ".safetensors"];
        AdapterFile.Save(path, m, AdapterMetadata.FromModel(m, labels, BackboneFingerprint.OfFolder(model), MaxLen, "wordpiece", extra));
        encoder.Backend.Dispose();
        return path;
    }

    /// <summary>Input records of a task: (what predict reads, written to a file, and the host's JSON records).</summary>
    public (string File, JsonElement[] Records) Inputs(TaskKind kind)
    {
        switch (kind)
        {
            case TaskKind.SequenceClassification:
            {
                string[] lines = ["{\"sentence\": \"the film was good\"}", "{\"sentence\": \"awful book\"}",
                    "{\"sentence\": \"the sun and the sky and the rain , so the ground was wet and warm because it was the sun , a good film\"}"];
                string file = Dir["seq.jsonl"];
                File.WriteAllLines(file, lines);
                return (file, lines.Select(Parse).ToArray());
            }
            case TaskKind.TokenClassification:
            {
                string[][] sentences = [["john", "lives", "in", "paris"], ["mary", "was", "in", "london", "."], ["the", "sky"]];
                string file = Dir["tok.conll"];
                File.WriteAllText(file, string.Join("\n\n", sentences.Select(s => string.Join("\n", s.Select(w => w + " O")))) + "\n");
                return (file, sentences.Select(s => Parse(JsonSerializer.Serialize(new { words = s }))).ToArray());
            }
            case TaskKind.QuestionAnswering:
            {
                (string Id, string Q, string C)[] qs = [("q1", "where does john live ?", "john lives in paris . mary lives in london , where it rains and the ground is wet ."),
                    ("q2", "who lives in london ?", "mary lives in london .")];
                var squad = new { version = "1.1", data = new[] { new { title = "t", paragraphs = qs.Select(q => new { context = q.C, qas = new[] { new { id = q.Id, question = q.Q, answers = Array.Empty<object>() } } }).ToArray() } } };
                string file = Dir["squad.json"];
                File.WriteAllText(file, JsonSerializer.Serialize(squad));
                return (file, qs.Select(q => Parse(JsonSerializer.Serialize(new { id = q.Id, question = q.Q, context = q.C }))).ToArray());
            }
            default:
            {
                string[] lines = ["{\"premise\": \"the ground is wet\", \"question\": \"cause\", \"choice1\": \"rain\", \"choice2\": \"sun\"}",
                    "{\"context\": \"the sky\", \"choices\": [\"good\", \"warm\"]}"];
                string file = Dir["mc.jsonl"];
                File.WriteAllLines(file, lines);
                return (file, lines.Select(Parse).ToArray());
            }
        }
    }

    public static JsonElement Parse(string json) => JsonDocument.Parse(json).RootElement.Clone();

    public void Dispose() { Dir.Dispose(); try { Directory.Delete(Model, true); } catch (IOException) { } }
}
