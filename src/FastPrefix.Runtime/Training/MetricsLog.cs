using System.Text;
using System.Text.Json;
using FastPrefix.IO;

namespace FastPrefix.Training;

/// <summary>
/// metrics.jsonl: one JSON object per finished epoch, e.g.
/// {"epoch":1,"step":8,"train_loss":0.69,"lr":0.009,"eval":{"accuracy":0.75},"best":true,"elapsed_s":1.234}.
/// Non-finite numbers are written as null. The file is rewritten whole (temporary file + rename) each time.
/// </summary>
public static class MetricsLog
{
    public const string FileName = "metrics.jsonl";

    public static string FormatLine(EpochSummary e)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("epoch", e.Epoch);
            w.WriteNumber("step", e.Step);
            Number(w, "train_loss", e.TrainLoss);
            Number(w, "lr", e.LearningRate);
            if (e.Eval != null)
            {
                w.WriteStartObject("eval");
                foreach (var (name, value) in e.Eval) Number(w, name, value);
                w.WriteEndObject();
            }
            w.WriteBoolean("best", e.IsBest);
            Number(w, "elapsed_s", Math.Round(e.ElapsedSeconds, 3));
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    public static EpochSummary ParseLine(string line)
    {
        using var doc = JsonDocument.Parse(line);
        var root = doc.RootElement;
        Dictionary<string, double>? eval = null;
        if (root.TryGetProperty("eval", out var ev))
        {
            eval = [];
            foreach (var p in ev.EnumerateObject()) eval[p.Name] = Read(p.Value);
        }
        return new EpochSummary
        {
            Epoch = root.GetProperty("epoch").GetInt32(),
            Step = root.GetProperty("step").GetInt32(),
            TrainLoss = Read(root.GetProperty("train_loss")),
            LearningRate = Read(root.GetProperty("lr")),
            Eval = eval,
            IsBest = root.GetProperty("best").GetBoolean(),
            ElapsedSeconds = Read(root.GetProperty("elapsed_s")),
        };
    }

    public static string Format(IEnumerable<EpochSummary> history)
    {
        var sb = new StringBuilder();
        foreach (var e in history) sb.Append(FormatLine(e)).Append('\n');
        return sb.ToString();
    }

    public static IReadOnlyList<EpochSummary> Parse(string text) =>
        [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(ParseLine)];

    /// <summary>Writes <paramref name="history"/> to <paramref name="path"/> atomically.</summary>
    public static void Write(string path, IEnumerable<EpochSummary> history) => AtomicFile.WriteAllText(path, Format(history));

    static void Number(Utf8JsonWriter w, string name, double value)
    {
        if (double.IsFinite(value)) w.WriteNumber(name, value);
        else w.WriteNull(name);
    }

    static double Read(JsonElement e) => e.ValueKind == JsonValueKind.Null ? double.NaN : e.GetDouble();
}
