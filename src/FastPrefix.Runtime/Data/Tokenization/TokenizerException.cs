namespace FastPrefix.Data.Tokenization;

/// <summary>
/// A tokenizer could not be loaded: a missing or malformed file. <see cref="FilePath"/> and
/// <see cref="Line"/> (1-based) say where, when known; the message names them too.
/// </summary>
public sealed class TokenizerException : Exception
{
    /// <summary>The file at fault (or the folder that lacks the files), if any.</summary>
    public string? FilePath { get; }

    /// <summary>1-based line number in <see cref="FilePath"/>, if known.</summary>
    public int? Line { get; }

    public TokenizerException(string message) : base(message) { }

    public TokenizerException(string message, Exception innerException) : base(message, innerException) { }

    public TokenizerException(string message, string? filePath, int? line = null, Exception? innerException = null)
        : base(Format(message, filePath, line), innerException)
    {
        FilePath = filePath;
        Line = line;
    }

    static string Format(string message, string? filePath, int? line) =>
        filePath is null ? message
        : line is null ? $"{filePath}: {message}"
        : $"{filePath}:{line}: {message}";
}
