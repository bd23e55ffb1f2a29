using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace FastPrefix.IO;

/// <summary>What is wrong with a JSON text and where: 1-based line (when known) and JSON path such as data[3].context (when known).</summary>
public sealed record JsonTextProblem(string Message, int? Line, string? Path)
{
    /// <summary>"path: message", or the message alone when there is no path.</summary>
    public string WithPath => Path is null ? Message : $"{Path}: {Message}";
}

/// <summary>
/// The one way FastPrefix reads JSON: the text must be valid UTF-8, valid JSON, and every string and member name
/// must decode to valid Unicode (System.Text.Json accepts an escaped lone surrogate such as "\ud800" while parsing
/// and only throws an InvalidOperationException when the string is read). Every problem goes through
/// <paramref name="fail"/> with its line and JSON path, so each reader raises its own error type naming its file.
/// </summary>
public static class StrictJson
{
    const int DefaultMaxDepth = 64;
    static readonly JsonReaderOptions ReaderOptions = new() { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = DefaultMaxDepth };

    /// <summary>Reads and parses a JSON file (a UTF-8 byte order mark is skipped). I/O errors propagate.</summary>
    public static JsonDocument ParseFile(string path, Func<JsonTextProblem, Exception> fail) => Parse(File.ReadAllBytes(path), fail);

    /// <summary>Parses UTF-8 JSON after <see cref="Validate"/>.</summary>
    public static JsonDocument Parse(ReadOnlyMemory<byte> utf8, Func<JsonTextProblem, Exception> fail)
    {
        var span = utf8.Span;
        int bom = span.StartsWith("\uFEFF"u8) ? 3 : 0;
        Validate(span[bom..], fail);
        return JsonDocument.Parse(utf8[bom..], new JsonDocumentOptions { MaxDepth = DefaultMaxDepth });
    }

    /// <summary>Parses JSON text after <see cref="Validate"/>.</summary>
    public static JsonDocument Parse(string text, Func<JsonTextProblem, Exception> fail)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Parse(Encoding.UTF8.GetBytes(text), fail);
    }

    /// <summary>Checks UTF-8, JSON syntax (one value, nothing after it) and that every string and member name decodes.</summary>
    public static void Validate(ReadOnlySpan<byte> utf8, Func<JsonTextProblem, Exception> fail)
    {
        ArgumentNullException.ThrowIfNull(fail);
        if (!Utf8.IsValid(utf8))
            throw fail(new JsonTextProblem("the text is not valid UTF-8 (expected a UTF-8 file)", LineAt(utf8, FirstInvalidUtf8(utf8)), null));
        var reader = new Utf8JsonReader(utf8, ReaderOptions);
        var path = new List<Frame>();
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        var name = Decode(ref reader, utf8, path, fail, memberName: true);
                        path[^1] = path[^1] with { Name = name };
                        break;
                    case JsonTokenType.StartObject:
                    case JsonTokenType.StartArray:
                        NextElement(path);
                        path.Add(new Frame(reader.TokenType == JsonTokenType.StartArray, -1, null));
                        break;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        path.RemoveAt(path.Count - 1);
                        break;
                    case JsonTokenType.String:
                        NextElement(path);
                        Decode(ref reader, utf8, path, fail, memberName: false);
                        break;
                    default:
                        NextElement(path);
                        break;
                }
            }
        }
        catch (JsonException e)
        {
            int? line = e.LineNumber is long l ? (int)l + 1 : null;
            throw fail(new JsonTextProblem("invalid JSON: " + FirstSentence(e), line, null));
        }
    }

    readonly record struct Frame(bool IsArray, int Index, string? Name);

    static void NextElement(List<Frame> path)
    {
        if (path.Count > 0 && path[^1].IsArray) path[^1] = path[^1] with { Index = path[^1].Index + 1 };
    }

    static string Decode(ref Utf8JsonReader reader, ReadOnlySpan<byte> utf8, List<Frame> path, Func<JsonTextProblem, Exception> fail, bool memberName)
    {
        try { return reader.GetString()!; }
        catch (InvalidOperationException)
        {
            string what = memberName ? "a member name" : "the string";
            string where = PathText(path, memberName);
            throw fail(new JsonTextProblem($"{what} is not valid Unicode: it holds an unpaired surrogate escape such as \\ud800 " +
                                           "(expected text; a surrogate escape must be a high one followed by a low one)",
                LineAt(utf8, reader.TokenStartIndex), where));
        }
    }

    /// <summary>data[3].paragraphs[0].context; "$" for the root. For a member name, the object that holds it.</summary>
    static string PathText(List<Frame> path, bool memberName)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < path.Count; i++)
        {
            var f = path[i];
            if (f.IsArray) sb.Append('[').Append(Math.Max(0, f.Index)).Append(']');
            else if (f.Name != null && !(memberName && i == path.Count - 1)) sb.Append(sb.Length > 0 ? "." : "").Append(f.Name);
        }
        return sb.Length == 0 ? "$" : sb.ToString();
    }

    static int LineAt(ReadOnlySpan<byte> utf8, long index)
    {
        if (index < 0) return 1;
        return utf8[..(int)Math.Min(index, utf8.Length)].Count((byte)'\n') + 1;
    }

    static int FirstInvalidUtf8(ReadOnlySpan<byte> utf8)
    {
        int offset = 0;
        while (!utf8.IsEmpty)
        {
            if (Rune.DecodeFromUtf8(utf8, out _, out int consumed) != System.Buffers.OperationStatus.Done) return offset;
            utf8 = utf8[consumed..];
            offset += consumed;
        }
        return -1;
    }

    /// <summary>System.Text.Json's message without its 0-based "LineNumber: | BytePositionInLine:" tail, with the byte made 1-based.</summary>
    static string FirstSentence(JsonException e)
    {
        string message = e.Message;
        int k = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        string main = (k >= 0 ? message[..k] : message).TrimEnd().TrimEnd('.');
        return e.BytePositionInLine is long b ? $"{main} at byte {b + 1}" : main;
    }
}
