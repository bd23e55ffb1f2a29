using System.Text.Json;
using FastPrefix.IO;

namespace FastPrefix.Data.Datasets;

/// <summary>A gold answer: its text and the UTF-16 index in the context where it starts.</summary>
public sealed record QaAnswer(string Text, int Start);

/// <summary>One extractive-QA question with its context; <see cref="Answers"/> is empty for an unanswerable (SQuAD v2.0) question.</summary>
public sealed record QaExample(string Id, string Question, string Context, IReadOnlyList<QaAnswer> Answers, bool IsImpossible, string Title);

/// <summary>
/// Reads SQuAD v1.1 and v2.0 JSON files ({"data": [{"title", "paragraphs": [{"context", "qas": [{"id", "question",
/// "answers": [{"text", "answer_start"}], "is_impossible"}]}]}]}) and checks every answer against its context.
/// </summary>
/// <remarks>
/// answer_start in SQuAD files counts Unicode code points (the files are made with Python); it is converted to a
/// UTF-16 index, which only differs when the context holds characters outside the Basic Multilingual Plane.
/// Without "is_impossible" (v1.1) a question is unanswerable exactly when its answers are empty.
/// plausible_answers (v2.0) are not read.
/// </remarks>
public static class SquadReader
{
    /// <summary>Reads all questions of <paramref name="path"/>, in file order.</summary>
    /// <exception cref="DatasetException">
    /// Malformed JSON (with its line), a missing or mistyped field, a duplicate id, an answer outside its context or whose
    /// text differs from the context at answer_start; the message names the file and the JSON path of the element.
    /// </exception>
    public static IReadOnlyList<QaExample> Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var text = DatasetFiles.ReadAllText(path);
        using (var doc = StrictJson.Parse(text, p => p.Path is null
                   ? new DatasetException(path, p.Line, p.Message + " (expected a SQuAD JSON document).")
                   : new DatasetException(path, p.Path, p.Message + ".", p.Line)))
        {
            var examples = new List<QaExample>();
            var ids = new Dictionary<string, string>(StringComparer.Ordinal);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new DatasetException(path, "$", $"the document is a JSON {DatasetFiles.Describe(root)} (expected an object with a \"data\" array).");
            var data = Array(path, "", root, "data");
            int di = 0;
            foreach (var article in data.EnumerateArray())
            {
                var ap = $"data[{di++}]";
                Object(path, ap, article);
                var title = OptionalString(path, ap, article, "title") ?? "";
                int pi = 0;
                foreach (var paragraph in Array(path, ap, article, "paragraphs").EnumerateArray())
                {
                    var pp = $"{ap}.paragraphs[{pi++}]";
                    Object(path, pp, paragraph);
                    var context = String(path, pp, paragraph, "context");
                    if (string.IsNullOrWhiteSpace(context))
                        throw new DatasetException(path, pp + ".context", "the context is blank (expected the passage text).");
                    int[]? utf16Index = CodePointToUtf16(context);
                    int qi = 0;
                    foreach (var qa in Array(path, pp, paragraph, "qas").EnumerateArray())
                    {
                        var qp = $"{pp}.qas[{qi++}]";
                        Object(path, qp, qa);
                        var id = String(path, qp, qa, "id");
                        if (string.IsNullOrWhiteSpace(id))
                            throw new DatasetException(path, qp + ".id", "the id is blank (expected a unique question id).");
                        if (!ids.TryAdd(id, qp))
                            throw new DatasetException(path, qp + ".id", $"id {DatasetFiles.Quote(id)} is already used by {ids[id]} (expected unique ids).");
                        var question = String(path, qp, qa, "question");
                        bool? impossible = OptionalBool(path, qp, qa, "is_impossible");

                        var answers = new List<QaAnswer>();
                        int ai = 0;
                        foreach (var answer in Array(path, qp, qa, "answers").EnumerateArray())
                        {
                            var anp = $"{qp}.answers[{ai++}]";
                            Object(path, anp, answer);
                            answers.Add(ReadAnswer(path, anp, answer, context, utf16Index));
                        }
                        if (impossible == true && answers.Count > 0)
                            throw new DatasetException(path, qp + ".answers",
                                $"the question has is_impossible: true but {answers.Count} answer(s) (expected no answers; SQuAD v2.0 keeps them in plausible_answers).");
                        if (impossible == false && answers.Count == 0)
                            throw new DatasetException(path, qp + ".answers",
                                "the question has no answers (expected at least one, or is_impossible: true).");
                        examples.Add(new QaExample(id, question, context, answers, impossible ?? answers.Count == 0, title));
                    }
                }
            }
            if (examples.Count == 0)
                throw new DatasetException(path, "data", "the file holds no questions (expected data[].paragraphs[].qas[] entries).");
            return examples;
        }
    }

    /// <summary>
    /// One unlabelled question from a JSON object {"question", "context", "id" (optional)}, e.g. a record given to the
    /// adapter host: what one entry of a SQuAD file's qas holds with its paragraph's context. Errors name
    /// <paramref name="source"/> (e.g. "items[2].input") and the field.
    /// </summary>
    public static QaExample ReadRecord(JsonElement obj, string source)
    {
        var question = DatasetFiles.RequireString(source, null, obj, "question");
        var context = DatasetFiles.RequireString(source, null, obj, "context");
        string id = obj.TryGetProperty("id", out var v) && v.ValueKind != JsonValueKind.Null
            ? DatasetFiles.RequireString(source, null, obj, "id", allowBlank: true) : "";
        return new QaExample(id, question, context, [], true, "");
    }

    static QaAnswer ReadAnswer(string path, string jp, JsonElement answer, string context, int[]? utf16Index)
    {
        var text = String(path, jp, answer, "text");
        if (text.Length == 0)
            throw new DatasetException(path, jp + ".text", "the answer text is empty (expected the answer span's text).");
        if (!answer.TryGetProperty("answer_start", out var s))
            throw new DatasetException(path, jp, $"missing field \"answer_start\" (fields present: {DatasetFiles.Fields(answer)}).");
        if (s.ValueKind != JsonValueKind.Number || !s.TryGetInt32(out int cpStart))
            throw new DatasetException(path, jp + ".answer_start", $"answer_start is {DatasetFiles.Describe(s)} (expected a character index, an integer).");
        int codePoints = utf16Index is null ? context.Length : utf16Index.Length - 1;
        if (cpStart < 0 || cpStart > codePoints)
            throw new DatasetException(path, jp + ".answer_start",
                $"answer_start {cpStart} is outside the context (expected 0 to {codePoints}, the context's length in characters).");
        int start = utf16Index is null ? cpStart : utf16Index[cpStart];
        if (start + text.Length > context.Length)
            throw new DatasetException(path, jp,
                $"answer {DatasetFiles.Quote(text)} at answer_start {cpStart} runs past the end of the context ({codePoints} characters).");
        if (string.CompareOrdinal(context, start, text, 0, text.Length) != 0)
            throw new DatasetException(path, jp,
                $"answer text {DatasetFiles.Quote(text)} does not match the context at answer_start {cpStart}, which reads " +
                $"{DatasetFiles.Quote(context.Substring(start, text.Length))} (expected context[answer_start : answer_start + len(text)] == text).");
        return new QaAnswer(text, start);
    }

    /// <summary>Null when the text has no surrogate pairs (code point index = UTF-16 index); else the UTF-16 index of every code point, plus the end.</summary>
    static int[]? CodePointToUtf16(string s)
    {
        if (s.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') < 0) return null;
        var map = new List<int>(s.Length + 1);
        for (int i = 0; i < s.Length; i++)
        {
            map.Add(i);
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++;
        }
        map.Add(s.Length);
        return map.ToArray();
    }

    static void Object(string path, string jp, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object)
            throw new DatasetException(path, jp, $"found a JSON {DatasetFiles.Describe(e)} (expected an object).");
    }

    static JsonElement Member(string path, string jp, JsonElement obj, string name)
    {
        if (!obj.TryGetProperty(name, out var v))
            throw new DatasetException(path, jp.Length == 0 ? "$" : jp, $"missing field \"{name}\" (fields present: {DatasetFiles.Fields(obj)}).");
        return v;
    }

    static string Join(string jp, string name) => jp.Length == 0 ? name : jp + "." + name;

    static JsonElement Array(string path, string jp, JsonElement obj, string name)
    {
        var v = Member(path, jp, obj, name);
        if (v.ValueKind != JsonValueKind.Array)
            throw new DatasetException(path, Join(jp, name), $"\"{name}\" is {DatasetFiles.Describe(v)} (expected an array).");
        return v;
    }

    static string String(string path, string jp, JsonElement obj, string name)
    {
        var v = Member(path, jp, obj, name);
        if (v.ValueKind != JsonValueKind.String)
            throw new DatasetException(path, Join(jp, name), $"\"{name}\" is {DatasetFiles.Describe(v)} (expected a string).");
        return v.GetString()!;
    }

    static string? OptionalString(string path, string jp, JsonElement obj, string name)
    {
        if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.String)
            throw new DatasetException(path, Join(jp, name), $"\"{name}\" is {DatasetFiles.Describe(v)} (expected a string).");
        return v.GetString();
    }

    static bool? OptionalBool(string path, string jp, JsonElement obj, string name)
    {
        if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new DatasetException(path, Join(jp, name), $"\"{name}\" is {DatasetFiles.Describe(v)} (expected true or false)."),
        };
    }
}
