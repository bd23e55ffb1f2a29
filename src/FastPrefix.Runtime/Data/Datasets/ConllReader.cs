using System.Text.Json;

namespace FastPrefix.Data.Datasets;

/// <summary>One sentence of a token-tagging file; <see cref="Line"/> is the line of its first word (1-based).</summary>
public sealed record TokenExample(string[] Words, string[] Tags, int Line);

/// <summary>
/// Reads CoNLL-style token files (CoNLL-2003, WNUT, OntoNotes exports): one word per line with
/// whitespace-separated columns, the word in the first column, a blank line between sentences,
/// -DOCSTART- lines skipped. Every word line of a file must have the same number of columns.
/// </summary>
public static class ConllReader
{
    /// <summary>
    /// Reads the sentences of <paramref name="path"/>. <paramref name="tagColumn"/>: 0-based column of the
    /// tag, -1 (default) for the last column; it must not be column 0, the word.
    /// </summary>
    /// <exception cref="DatasetException">A line has too few columns or a different number of columns than the first word line.</exception>
    public static IReadOnlyList<TokenExample> Read(string path, int tagColumn = -1)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (tagColumn == 0 || tagColumn < -1)
            throw new ArgumentOutOfRangeException(nameof(tagColumn), tagColumn, "tagColumn must be -1 (last column) or a column after the word (1 or more).");

        var text = DatasetFiles.ReadAllText(path);
        var sentences = new List<TokenExample>();
        var words = new List<string>();
        var tags = new List<string>();
        int sentenceLine = 0, columns = 0, columnsLine = 0;

        void Flush()
        {
            if (words.Count > 0) sentences.Add(new TokenExample(words.ToArray(), tags.ToArray(), sentenceLine));
            words.Clear();
            tags.Clear();
        }

        foreach (var (line, content) in DatasetFiles.Lines(text))
        {
            if (string.IsNullOrWhiteSpace(content)) { Flush(); continue; }
            var cols = content.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (cols[0] == "-DOCSTART-") { Flush(); continue; }

            int needed = tagColumn == -1 ? 2 : tagColumn + 1;
            if (cols.Length < needed)
                throw new DatasetException(path, line,
                    $"found {cols.Length} column{(cols.Length == 1 ? "" : "s")} (expected at least {needed}: the word{(tagColumn == -1 ? " and its tag" : $" and the tag in column {tagColumn}")}).");
            if (columns == 0) { columns = cols.Length; columnsLine = line; }
            else if (cols.Length != columns)
                throw new DatasetException(path, line,
                    $"found {cols.Length} columns (expected {columns}, as on line {columnsLine}).");

            if (words.Count == 0) sentenceLine = line;
            words.Add(cols[0]);
            tags.Add(cols[tagColumn == -1 ? cols.Length - 1 : tagColumn]);
        }
        Flush();
        if (sentences.Count == 0)
            throw new DatasetException(path, "the file holds no sentences (expected lines of whitespace-separated word and tag columns).");
        return sentences;
    }

    /// <summary>
    /// One unlabelled sentence from a JSON object {"words": [...]} ("tokens" is accepted too, as Hugging Face datasets
    /// name it), e.g. a record given to the adapter host: what one sentence of a CoNLL file holds, without tags.
    /// Errors name <paramref name="source"/> (e.g. "items[2].input") and the field.
    /// </summary>
    public static TokenExample ReadRecord(JsonElement obj, string source)
    {
        string field = obj.TryGetProperty("words", out _) ? "words" : obj.TryGetProperty("tokens", out _) ? "tokens"
            : throw new DatasetException(source, (int?)null, $"missing field \"words\" (fields present: {DatasetFiles.Fields(obj)}).");
        var arr = obj.GetProperty(field);
        if (arr.ValueKind != JsonValueKind.Array)
            throw new DatasetException(source, (int?)null, $"field \"{field}\" is {DatasetFiles.Describe(arr)} (expected an array of words).");
        var words = new List<string>();
        foreach (var w in arr.EnumerateArray())
        {
            if (w.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(w.GetString()))
                throw new DatasetException(source, (int?)null, $"{field}[{words.Count}] is {DatasetFiles.Describe(w)} (expected a non-blank word).");
            words.Add(w.GetString()!);
        }
        if (words.Count == 0) throw new DatasetException(source, (int?)null, $"field \"{field}\" is empty (expected at least one word).");
        return new TokenExample(words.ToArray(), new string[words.Count], 0);
    }
}
