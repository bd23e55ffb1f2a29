namespace FastPrefix.Inference;

/// <summary>Why the host refused or failed a request; the HTTP layer maps each to a status code.</summary>
public enum HostErrorKind
{
    /// <summary>A record or argument is malformed; the message names the item and field.</summary>
    BadInput,
    /// <summary>No adapter of that name is loaded.</summary>
    UnknownAdapter,
    /// <summary>The queue is full: the request was refused at once, nothing of it ran.</summary>
    Overloaded,
    /// <summary>The request's timeout passed before all its records were computed.</summary>
    DeadlineExceeded,
    /// <summary>The host is shutting down and no longer accepts or finishes requests.</summary>
    ShuttingDown,
    /// <summary>The adapter file or folder cannot be loaded (missing, malformed, another backbone).</summary>
    BadAdapter,
    /// <summary>The engine failed on a pass (a bug or a device error, not the input); the message says where.</summary>
    EngineFailure,
}

/// <summary>A request or adapter operation the host refused or could not complete; <see cref="Kind"/> says why.</summary>
public sealed class AdapterHostException(HostErrorKind kind, string message, Exception? inner = null) : Exception(message, inner)
{
    public HostErrorKind Kind { get; } = kind;
}
