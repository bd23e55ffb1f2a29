using System.Globalization;
using System.Text.Json;

namespace FastPrefix.Data.Datasets;

/// <summary>One multiple-choice example; <see cref="Label"/> is the index of the correct choice, null when unlabeled.</summary>
public sealed record ChoiceExample(string Context, string? Question, IReadOnlyList<string> Choices, int? Label, int Line);

/// <summary>
/// Reads multiple-choice JSON Lines files, one example per line, in either form:
/// COPA — {"premise", "choice1", "choice2" (, "choice3" …), "question", "label"}; or
/// generic — {"context" or "premise", "question" (optional), "choices": [...], "label"}.
/// The label is the 0-based index of the correct choice, as an integer or a string holding one;
/// a missing or null label, or -1 (the Hugging Face convention for unlabeled test splits), gives a null label.
/// </summary>
public static class MultipleChoiceReader
{
    /// <summary>Reads the examples of <paramref name="path"/>; blank lines are skipped.</summary>
    /// <exception cref="DatasetException">Malformed line, missing or blank text, fewer than two choices, or a label out of range; the message names file and line.</exception>
    public static IReadOnlyList<ChoiceExample> Read(string file, string? sourceName = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(file);
        string path = sourceName ?? file;
        var examples = new List<ChoiceExample>();
        foreach (var (line, obj) in DatasetFiles.JsonLines(file, path))
            examples.Add(ReadRecord(obj, path, line));
        if (examples.Count == 0)
            throw new DatasetException(path, "the file holds no examples (expected one JSON object per line).");
        return examples;
    }

    /// <summary>
    /// One example from one JSON object (a line of a file, or a record given to the adapter host). Errors name
    /// <paramref name="path"/> (a file, or where the record came from, e.g. "items[2].input") and <paramref name="line"/> (null: none).
    /// </summary>
    public static ChoiceExample ReadRecord(JsonElement obj, string path, int? line = null)
    {
        string contextField = obj.TryGetProperty("context", out _) ? "context"
            : obj.TryGetProperty("premise", out _) ? "premise"
            : throw new DatasetException(path, line, $"missing field \"context\" or \"premise\" (fields present: {DatasetFiles.Fields(obj)}).");
        var context = DatasetFiles.RequireString(path, line, obj, contextField);

        string? question = null;
        if (obj.TryGetProperty("question", out var q) && q.ValueKind != JsonValueKind.Null)
            question = DatasetFiles.RequireString(path, line, obj, "question", allowBlank: true);

        var choices = new List<string>();
        if (obj.TryGetProperty("choices", out var arr))
        {
            if (arr.ValueKind != JsonValueKind.Array)
                throw new DatasetException(path, line, $"field \"choices\" is {DatasetFiles.Describe(arr)} (expected an array of strings).");
            int i = 0;
            foreach (var c in arr.EnumerateArray())
            {
                if (c.ValueKind != JsonValueKind.String)
                    throw new DatasetException(path, line, $"choices[{i}] is {DatasetFiles.Describe(c)} (expected a string).");
                if (string.IsNullOrWhiteSpace(c.GetString()))
                    throw new DatasetException(path, line, $"choices[{i}] is blank (expected non-empty text).");
                choices.Add(c.GetString()!);
                i++;
            }
        }
        else if (obj.TryGetProperty("choice1", out _))
        {
            for (int k = 1; obj.TryGetProperty("choice" + k.ToString(CultureInfo.InvariantCulture), out _); k++)
                choices.Add(DatasetFiles.RequireString(path, line, obj, "choice" + k.ToString(CultureInfo.InvariantCulture)));
        }
        else
        {
            throw new DatasetException(path, line,
                $"no choices (expected a \"choices\" array or \"choice1\", \"choice2\" fields; fields present: {DatasetFiles.Fields(obj)}).");
        }
        if (choices.Count < 2)
            throw new DatasetException(path, line, $"found {choices.Count} choice{(choices.Count == 1 ? "" : "s")} (expected at least 2).");
        return new ChoiceExample(context, question, choices, ReadLabel(path, line, obj, choices.Count), line ?? 0);
    }

    static int? ReadLabel(string path, int? line, JsonElement obj, int choiceCount)
    {
        if (!obj.TryGetProperty("label", out var v) || v.ValueKind == JsonValueKind.Null) return null;
        long label;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long n)) label = n;
        else if (v.ValueKind == JsonValueKind.String && long.TryParse(v.GetString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long p)) label = p;
        else throw new DatasetException(path, line, $"label is {DatasetFiles.Describe(v)} (expected the index of the correct choice, 0 to {choiceCount - 1}).");
        if (label == -1) return null;
        if (label < 0 || label >= choiceCount)
            throw new DatasetException(path, line, $"label {label} is out of range (expected 0 to {choiceCount - 1} for {choiceCount} choices, or -1 for unlabeled).");
        return (int)label;
    }
}
