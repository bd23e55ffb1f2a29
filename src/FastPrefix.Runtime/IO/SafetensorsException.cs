namespace FastPrefix.IO;

/// <summary>
/// A safetensors file that cannot be read or written as asked. The message always names the
/// file and, where there is one, the tensor, and says what was expected.
/// </summary>
public class SafetensorsException : Exception
{
    /// <summary>
    /// Message: "<paramref name="filePath"/>: <paramref name="problem"/>", or
    /// "<paramref name="filePath"/>: tensor '<paramref name="tensorName"/>': <paramref name="problem"/>".
    /// </summary>
    public SafetensorsException(string filePath, string? tensorName, string problem, Exception? innerException = null)
        : this(Compose(filePath, tensorName, problem), filePath, tensorName, innerException, wholeMessage: true)
    {
    }

    /// <summary>Takes <paramref name="message"/> as the whole message (it must name the file itself).</summary>
    SafetensorsException(string message, string filePath, string? tensorName, Exception? innerException, bool wholeMessage)
        : base(message, innerException)
    {
        FilePath = filePath;
        TensorName = tensorName;
    }

    /// <summary>The file read or written (full path), or "(in memory)" for <see cref="SafetensorsWriter.ToBytes"/>.</summary>
    public string FilePath { get; }

    /// <summary>The tensor concerned, or null when the problem is with the file as a whole.</summary>
    public string? TensorName { get; }

    internal static SafetensorsException NoTensor(string filePath, string name, string? hint) =>
        new($"{filePath}: no tensor '{name}'{hint}", filePath, name, null, wholeMessage: true);

    static string Compose(string filePath, string? tensorName, string problem) =>
        tensorName is null ? $"{filePath}: {problem}" : $"{filePath}: tensor '{tensorName}': {problem}";
}
