namespace FastPrefix.Serving;

/// <summary>Limits and switches of the FastPrefix HTTP endpoints (<see cref="FastPrefixEndpoints.MapFastPrefix"/>).</summary>
public sealed record FastPrefixServingOptions
{
    /// <summary>When set, every endpoint but /healthz needs "Authorization: Bearer KEY" or "X-API-Key: KEY" (401 otherwise).</summary>
    public string? ApiKey { get; init; }
    /// <summary>Largest request body accepted (413 above it).</summary>
    public long MaxRequestBytes { get; init; } = 1 << 20;
    /// <summary>Most items in one POST /v1/predict (413 above it).</summary>
    public int MaxItems { get; init; } = 256;
    /// <summary>
    /// The folder POST /v1/adapters/{name} loads from; null (the default) turns loading and unloading over HTTP off (403).
    /// Paths in a load request are relative to it, and nothing outside it (.., absolute paths, links leading out) is loaded.
    /// </summary>
    public string? AdapterFolder { get; init; }
    /// <summary>Timeout of a predict request that gives no "timeout_ms" (null: none).</summary>
    public TimeSpan? DefaultTimeout { get; init; }

    internal void Validate()
    {
        if (MaxRequestBytes <= 0) throw new ArgumentException($"MaxRequestBytes must be positive, got {MaxRequestBytes}");
        if (MaxItems <= 0) throw new ArgumentException($"MaxItems must be positive, got {MaxItems}");
        if (ApiKey is { Length: 0 }) throw new ArgumentException("ApiKey is empty: give a key or null for none");
        if (AdapterFolder != null && !Directory.Exists(AdapterFolder)) throw new ArgumentException($"AdapterFolder {AdapterFolder}: folder not found");
    }
}
