namespace FastPrefix.Adapters;

/// <summary>
/// An adapter file or folder cannot be read, written or loaded as asked: a missing or malformed metadata
/// key, a missing or mis-shaped tensor, or an adapter built for another backbone. The message names the
/// file (and the key or tensor) and says what was expected. The CLI maps it to exit code 2 by type name.
/// </summary>
public sealed class AdapterException : Exception
{
    public AdapterException(string message, Exception? innerException = null) : base(message, innerException) { }
}
