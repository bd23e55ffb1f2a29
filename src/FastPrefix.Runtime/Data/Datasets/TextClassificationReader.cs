using System.Text;
using System.Text.Json;

namespace FastPrefix.Data.Datasets;

/// <summary>One example of a sentence or sentence-pair classification file; <see cref="Line"/> is where its record starts (1-based).</summary>
public sealed record TextExample(string Text, string? TextPair, string? Label, int Line);

/// <summary>The examples of one file and the fields they were read from.</summary>
public sealed record TextDataset(string FilePath, IReadOnlyList<TextExample> Examples, IReadOnlyList<string> TextFields, string LabelField);

/// <summary>
/// Reads sentence and sentence-pair classification data (GLUE, SuperGLUE style) as raw text and label strings.
/// The format follows the extension: .jsonl / .json — one JSON object per line (blank lines skipped);
/// .csv — a header row then RFC 4180 records (quoted fields may hold commas, "" and line breaks);
/// .tsv — a header row then tab-separated fields, no quoting (quotes are ordinary characters, as in the GLUE files).
/// A UTF-8 byte order mark and CRLF line ends are accepted.
/// </summary>
public static class TextClassificationReader
{
    /// <summary>
    /// The default text fields, tried in this order against the first record's fields; the first whose
    /// fields are all present wins. Pairs come before single fields so that QNLI's {question, sentence}
    /// is not read as the single field "sentence".
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<string>> DefaultTextFields { get; } =
    [
        ["sentence1", "sentence2"],
        ["premise", "hypothesis"],
        ["question", "passage"],
        ["question", "sentence"],
        ["question1", "question2"],
        ["text_a", "text_b"],
        ["sentence"],
        ["text"],
    ];

    /// <summary>
    /// Reads <paramref name="path"/>. <paramref name="textFields"/>: one or two field names (text, text pair);
    /// null picks the first of <see cref="DefaultTextFields"/> present in the first record.
    /// <paramref name="labelField"/>: default "label". Labels are kept as strings: a JSON string as is,
    /// a number as written ("1", "-1", "0.5"), a boolean as "true"/"false". With <paramref name="requireLabels"/> false,
    /// a missing, null or blank label gives a null <see cref="TextExample.Label"/>.
    /// </summary>
    /// <exception cref="DatasetException">The file does not match the expected format; the message names file and line.</exception>
    public static TextDataset Read(string path, IReadOnlyList<string>? textFields = null, string? labelField = null, bool requireLabels = true,
        string? sourceName = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (textFields is not null)
        {
            if (textFields.Count is < 1 or > 2)
                throw new ArgumentException($"--text-fields names {textFields.Count} fields (expected 1 or 2: the text and an optional text pair).", nameof(textFields));
            if (textFields.Any(string.IsNullOrWhiteSpace))
                throw new ArgumentException("--text-fields contains a blank name.", nameof(textFields));
        }
        if (labelField is not null && string.IsNullOrWhiteSpace(labelField))
            throw new ArgumentException("--label-field is blank (expected a field name; the default is \"label\").", nameof(labelField));
        string shown = sourceName ?? path;
        var label = labelField ?? "label";

        var ext = Path.GetExtension(path).ToLowerInvariant();
        IEnumerable<Record> records = ext switch
        {
            ".jsonl" or ".json" => JsonRecords(path, shown),
            ".csv" => DelimitedRecords(path, shown, ',', quoting: true),
            ".tsv" => DelimitedRecords(path, shown, '\t', quoting: false),
            _ => throw new DatasetException(shown, $"unknown file extension \"{ext}\" (expected .jsonl, .json, .csv or .tsv)."),
        };

        IReadOnlyList<string>? fields = textFields;
        var examples = new List<TextExample>();
        foreach (var r in records)
        {
            fields ??= DefaultTextFields.FirstOrDefault(c => c.All(r.Has))
                ?? throw new DatasetException(shown, r.FieldsLine, NoDefaultTextFields(r.Names));
            var text = r.Text(fields[0]);
            var pair = fields.Count > 1 ? r.Text(fields[1]) : null;
            var lab = r.Label(label, requireLabels);
            examples.Add(new TextExample(text, pair, lab, r.Line ?? 0));
        }
        if (examples.Count == 0)
            throw new DatasetException(shown, "the file holds no examples (expected at least one record after the header).");
        CheckLabelKinds(shown, examples);
        return new TextDataset(shown, examples, fields!.ToArray(), label);
    }

    /// <summary>
    /// Integer labels ("0", "1", a JSON 1) and label names ("positive") do not mix in one file: a stray 1 among
    /// positive/negative would silently become a class of its own.
    /// </summary>
    static void CheckLabelKinds(string path, List<TextExample> examples)
    {
        TextExample? firstInteger = null, firstName = null;
        foreach (var e in examples)
        {
            if (e.Label is null) continue;
            if (LabelSet.IsInteger(e.Label)) firstInteger ??= e;
            else firstName ??= e;
            if (firstInteger != null && firstName != null)
            {
                var (odd, first) = firstInteger.Line > firstName.Line ? (firstInteger, firstName) : (firstName, firstInteger);
                string Kind(TextExample x) => x == firstInteger ? "an integer" : "a name";
                throw new DatasetException(path, odd.Line,
                    $"label {DatasetFiles.Quote(odd.Label!)} is {Kind(odd)}, but the label on line {first.Line} ({DatasetFiles.Quote(first.Label!)}) is {Kind(first)}; " +
                    $"the labels of a file must be all names or all integers (a mix would make {DatasetFiles.Quote(odd.Label!)} a class of its own).");
            }
        }
    }

    /// <summary>
    /// One unlabelled example from one JSON object, e.g. a record given to the adapter host: the text fields are
    /// <paramref name="textFields"/>, else the first of <see cref="DefaultTextFields"/> present in this record.
    /// Errors name <paramref name="source"/> (e.g. "items[2].input") and the field.
    /// </summary>
    public static TextExample ReadRecord(JsonElement obj, string source, IReadOnlyList<string>? textFields = null)
    {
        var r = new JsonRecord(source, null, obj);
        var fields = textFields ?? DefaultTextFields.FirstOrDefault(c => c.All(r.Has))
            ?? throw new DatasetException(source, (int?)null, NoDefaultTextFields(r.Names));
        return new TextExample(r.Text(fields[0]), fields.Count > 1 ? r.Text(fields[1]) : null, null, 0);
    }

    static string NoDefaultTextFields(IEnumerable<string> present) =>
        $"none of the default text fields is present (fields: {string.Join(", ", present)}; expected one of " +
        string.Join(", ", DefaultTextFields.Select(c => "[" + string.Join(", ", c) + "]")) + ", or name them with --text-fields).";

    /// <summary>One record, whatever the format, with field access that reports errors at its line.</summary>
    abstract class Record(string path, int? line)
    {
        public string Path { get; } = path;
        public int? Line { get; } = line;
        /// <summary>Where the field names are defined: the header line, or the record itself for JSON.</summary>
        public abstract int? FieldsLine { get; }
        public abstract IEnumerable<string> Names { get; }
        public abstract bool Has(string field);
        public abstract string Text(string field);
        public abstract string? Label(string field, bool required);

        protected DatasetException Error(string problem) => new(Path, Line, problem);
    }

    sealed class JsonRecord(string path, int? line, JsonElement obj) : Record(path, line)
    {
        public override int? FieldsLine => Line;
        public override IEnumerable<string> Names => obj.EnumerateObject().Select(p => p.Name);
        public override bool Has(string field) => obj.TryGetProperty(field, out var v) && v.ValueKind != JsonValueKind.Null;
        public override string Text(string field) => DatasetFiles.RequireString(Path, Line, obj, field);

        public override string? Label(string field, bool required)
        {
            if (!obj.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null)
            {
                if (!required) return null;
                throw Error(v.ValueKind == JsonValueKind.Null
                    ? $"label field \"{field}\" is null (expected a string, integer or boolean label)."
                    : $"missing label field \"{field}\" (fields present: {DatasetFiles.Fields(obj)}).");
            }
            string? s = v.ValueKind switch
            {
                JsonValueKind.String => v.GetString(),
                JsonValueKind.Number => v.GetRawText(),
                JsonValueKind.True => "true",
                JsonValueKind.False => "false",
                _ => throw Error($"label field \"{field}\" is {DatasetFiles.Describe(v)} (expected a string, integer or boolean label)."),
            };
            if (string.IsNullOrWhiteSpace(s))
            {
                if (!required) return null;
                throw Error($"label field \"{field}\" is blank (expected a label).");
            }
            return s;
        }
    }

    sealed class RowRecord(string path, int line, Header header, List<string> values) : Record(path, line)
    {
        public override int? FieldsLine => header.Line;
        public override IEnumerable<string> Names => header.Names;
        public override bool Has(string field) => header.Index.ContainsKey(field);

        public override string Text(string field)
        {
            if (!header.Index.TryGetValue(field, out int i))
                throw new DatasetException(Path, header.Line, $"missing column \"{field}\" (columns: {string.Join(", ", header.Names)}).");
            var s = values[i];
            if (string.IsNullOrWhiteSpace(s))
                throw Error($"column \"{field}\" (column {i + 1}) is blank (expected non-empty text).");
            return s;
        }

        public override string? Label(string field, bool required)
        {
            if (!header.Index.TryGetValue(field, out int i))
            {
                if (!required) return null;
                throw new DatasetException(Path, header.Line, $"missing label column \"{field}\" (columns: {string.Join(", ", header.Names)}).");
            }
            var s = values[i];
            if (string.IsNullOrWhiteSpace(s))
            {
                if (!required) return null;
                throw Error($"label column \"{field}\" (column {i + 1}) is blank (expected a label).");
            }
            return s;
        }
    }

    sealed record Header(int Line, string[] Names, Dictionary<string, int> Index);

    static IEnumerable<Record> JsonRecords(string path, string shown)
    {
        foreach (var (line, obj) in DatasetFiles.JsonLines(path, shown))
            yield return new JsonRecord(shown, line, obj);
    }

    static IEnumerable<Record> DelimitedRecords(string file, string path, char separator, bool quoting)
    {
        var text = DatasetFiles.ReadAllText(file, path);
        var rows = quoting ? CsvRows(path, text) : TsvRows(text);
        Header? header = null;
        var kind = quoting ? "CSV" : "TSV";
        foreach (var (line, values) in rows)
        {
            if (values.Count == 1 && string.IsNullOrWhiteSpace(values[0])) continue; // blank line
            if (header is null)
            {
                var names = values.Select(v => v.Trim()).ToArray();
                var index = new Dictionary<string, int>(StringComparer.Ordinal);
                for (int i = 0; i < names.Length; i++)
                {
                    if (names[i].Length == 0)
                        throw new DatasetException(path, line, $"header column {i + 1} has no name (expected a {kind} header row naming every column).");
                    if (!index.TryAdd(names[i], i))
                        throw new DatasetException(path, line, $"header names column \"{names[i]}\" twice (columns {index[names[i]] + 1} and {i + 1}).");
                }
                header = new Header(line, names, index);
                continue;
            }
            if (values.Count != header.Names.Length)
                throw new DatasetException(path, line,
                    $"found {values.Count} {(quoting ? "comma" : "tab")}-separated fields (expected {header.Names.Length}, as in the header on line {header.Line}).");
            yield return new RowRecord(path, line, header, values);
        }
        if (header is null)
            throw new DatasetException(path, $"the file is empty (expected a {kind} header row).");
    }

    static IEnumerable<(int Line, List<string> Values)> TsvRows(string text)
    {
        foreach (var (line, content) in DatasetFiles.Lines(text))
            yield return (line, content.Split('\t').ToList());
    }

    /// <summary>RFC 4180 records; a record's line is the line it starts on.</summary>
    static IEnumerable<(int Line, List<string> Values)> CsvRows(string path, string text)
    {
        int i = 0, line = 1;
        var field = new StringBuilder();
        while (i < text.Length)
        {
            int recordLine = line;
            var values = new List<string>();
            while (true) // one field per iteration
            {
                field.Clear();
                if (i < text.Length && text[i] == '"')
                {
                    int quoteLine = line;
                    i++;
                    while (true)
                    {
                        if (i >= text.Length)
                            throw new DatasetException(path, quoteLine, $"quoted field {values.Count + 1} is never closed (expected a closing '\"').");
                        char c = text[i];
                        if (c == '"')
                        {
                            if (i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i += 2; continue; }
                            i++;
                            break;
                        }
                        if (c == '\n' || (c == '\r' && !(i + 1 < text.Length && text[i + 1] == '\n'))) line++;
                        field.Append(c);
                        i++;
                    }
                    if (i < text.Length && text[i] != ',' && text[i] != '\r' && text[i] != '\n')
                        throw new DatasetException(path, line,
                            $"unexpected character '{text[i]}' after the closing quote of field {values.Count + 1} (expected a comma or the end of the line; write a quote inside a quoted field as \"\").");
                }
                else
                {
                    while (i < text.Length && text[i] != ',' && text[i] != '\r' && text[i] != '\n') field.Append(text[i++]);
                }
                values.Add(field.ToString());
                if (i < text.Length && text[i] == ',') { i++; continue; }
                break;
            }
            // end of record: a line break or the end of the text
            if (i < text.Length)
            {
                if (text[i] == '\r' && i + 1 < text.Length && text[i + 1] == '\n') i += 2;
                else i++;
                line++;
            }
            yield return (recordLine, values);
        }
    }
}
