using System.Text;
using System.Text.Json;
using FastPrefix.IO;

namespace FastPrefix.Data.Datasets;

/// <summary>Shared plumbing of the readers: UTF-8 text with line numbers, JSON Lines, JSON value descriptions.</summary>
internal static class DatasetFiles
{
    static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The whole file as text: UTF-8, a leading byte order mark dropped; invalid UTF-8 is reported with its line.</summary>
    /// <param name="shownAs">The name errors use (default: <paramref name="path"/>), e.g. "stdin" for a copy of standard input.</param>
    public static string ReadAllText(string path, string? shownAs = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var bytes = File.ReadAllBytes(path);
        int start = bytes.Length >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0;
        try
        {
            return StrictUtf8.GetString(bytes, start, bytes.Length - start);
        }
        catch (DecoderFallbackException)
        {
            int line = 1, lineStart = start;
            for (int i = start; i <= bytes.Length; i++)
            {
                if (i == bytes.Length || bytes[i] == (byte)'\n')
                {
                    try { StrictUtf8.GetString(bytes, lineStart, i - lineStart); }
                    catch (DecoderFallbackException) { break; }
                    line++;
                    lineStart = i + 1;
                }
            }
            throw new DatasetException(shownAs ?? path, line, "the text is not valid UTF-8 (expected a UTF-8 file).");
        }
    }

    /// <summary>The lines of <paramref name="text"/> with their 1-based numbers; LF, CRLF and lone CR all end a line.</summary>
    public static IEnumerable<(int Line, string Text)> Lines(string text)
    {
        int line = 1, i = 0;
        while (i < text.Length)
        {
            int j = text.AsSpan(i).IndexOfAny('\n', '\r');
            if (j < 0) { yield return (line, text[i..]); yield break; }
            yield return (line, text.Substring(i, j));
            i += j;
            if (text[i] == '\r' && i + 1 < text.Length && text[i + 1] == '\n') i += 2;
            else i += 1;
            line++;
        }
    }

    /// <summary>
    /// The objects of a JSON Lines file with their line numbers; blank lines skipped. The elements are
    /// detached clones: nothing needs disposing.
    /// </summary>
    public static IEnumerable<(int Line, JsonElement Obj)> JsonLines(string file, string? shownAs = null)
    {
        string path = shownAs ?? file;
        var text = ReadAllText(file, path);
        foreach (var (line, content) in Lines(text))
        {
            if (string.IsNullOrWhiteSpace(content)) continue;
            JsonElement root;
            using (var doc = StrictJson.Parse(content, p => new DatasetException(path, line, p.Path is null ? p.Message + Hint(content, line, text) : p.WithPath + ".")))
                root = doc.RootElement.Clone();
            if (root.ValueKind != JsonValueKind.Object)
                throw new DatasetException(path, line, $"found a JSON {Describe(root)} (expected one JSON object per line).");
            yield return (line, root);
        }
    }

    static string Hint(string content, int line, string text) =>
        content.TrimStart().StartsWith('[') && line == FirstNonBlankLine(text)
            ? " (expected JSON Lines: one JSON object per line, not a JSON array)"
            : " (expected one complete JSON object per line)";

    static int FirstNonBlankLine(string text)
    {
        foreach (var (line, content) in Lines(text))
            if (!string.IsNullOrWhiteSpace(content)) return line;
        return 0;
    }

    /// <summary>"string \"abc\"", "number 3", "array", "object", "null", "true"… for messages.</summary>
    public static string Describe(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => "string " + Quote(e.GetString()!),
        JsonValueKind.Number => "number " + e.GetRawText(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.Null => "null",
        JsonValueKind.Array => "array",
        JsonValueKind.Object => "object",
        _ => e.ValueKind.ToString(),
    };

    /// <summary>A value quoted for a message, shortened when long.</summary>
    public static string Quote(string s)
    {
        const int max = 60;
        var shown = s.Length > max ? s[..max] + "…" : s;
        return "\"" + shown.Replace("\n", "\\n").Replace("\r", "\\r").Replace("\t", "\\t") + "\"";
    }

    /// <summary>The text of a JSON string member, or an error that says which field and what it held.</summary>
    public static string RequireString(string path, int? line, JsonElement obj, string field, bool allowBlank = false)
    {
        if (!obj.TryGetProperty(field, out var v))
            throw new DatasetException(path, line, $"missing field \"{field}\" (fields present: {Fields(obj)}).");
        if (v.ValueKind != JsonValueKind.String)
            throw new DatasetException(path, line, $"field \"{field}\" is {Describe(v)} (expected a string).");
        var s = v.GetString()!;
        if (!allowBlank && string.IsNullOrWhiteSpace(s))
            throw new DatasetException(path, line, $"field \"{field}\" is blank (expected non-empty text).");
        return s;
    }

    public static string Fields(JsonElement obj)
    {
        var names = obj.EnumerateObject().Select(p => p.Name).ToList();
        return names.Count == 0 ? "none" : string.Join(", ", names);
    }
}
