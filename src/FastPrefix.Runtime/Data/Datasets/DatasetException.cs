namespace FastPrefix.Data.Datasets;

/// <summary>
/// A dataset file that cannot be read as asked. The message starts with where the problem is —
/// "file:line: " for line-based formats, "file: json.path: " for SQuAD JSON, "file: " when the
/// problem concerns the whole file — followed by what is wrong and what was expected.
/// </summary>
public sealed class DatasetException : Exception
{
    /// <summary>The file, as the caller named it.</summary>
    public string FilePath { get; }

    /// <summary>1-based line of the problem, when known.</summary>
    public int? Line { get; }

    /// <summary>JSON path of the offending element (e.g. data[3].paragraphs[0].qas[2].answers[0]), when known.</summary>
    public string? JsonPath { get; }

    /// <summary>What is wrong, without the location prefix.</summary>
    public string Problem { get; }

    /// <summary>A problem with the file as a whole.</summary>
    public DatasetException(string filePath, string problem, Exception? inner = null)
        : this(filePath, (int?)null, problem, inner) { }

    /// <summary>A problem at a line (null: unknown).</summary>
    public DatasetException(string filePath, int? line, string problem, Exception? inner = null)
        : base(Format(filePath, line, null, problem), inner)
    {
        FilePath = filePath;
        Line = line;
        Problem = problem;
    }

    /// <summary>A problem at a JSON element, optionally with its line.</summary>
    public DatasetException(string filePath, string jsonPath, string problem, int? line = null, Exception? inner = null)
        : base(Format(filePath, line, jsonPath, problem), inner)
    {
        FilePath = filePath;
        Line = line;
        JsonPath = jsonPath;
        Problem = problem;
    }

    static string Format(string filePath, int? line, string? jsonPath, string problem)
    {
        var where = line is int l ? $"{filePath}:{l}" : filePath;
        if (!string.IsNullOrEmpty(jsonPath)) where += ": " + jsonPath;
        return $"{where}: {problem}";
    }
}
