namespace FastPrefix.Inference;

/// <summary>Which records may share an encoder pass.</summary>
public enum BatchingMode
{
    /// <summary>Records of every adapter with the same prefix shape share a pass (each row reads its own prefix and head).</summary>
    MixedAdapters,
    /// <summary>A pass serves one adapter only, as frameworks without per-row prefixes must (kept to measure the difference).</summary>
    OneAdapterPerPass,
}

/// <summary>Options of an <see cref="AdapterHost"/>: device, dynamic batching and the request queue.</summary>
public sealed record AdapterHostOptions
{
    /// <summary>auto | cpu | cuda | cuda-sim, as the CLI's --device.</summary>
    public string Device { get; init; } = "auto";
    /// <summary>fp32 | bf16, as the CLI's --precision; null: the device's default (bf16 on a GPU).</summary>
    public string? Precision { get; init; }
    /// <summary>A pass closes when it holds this many encoder rows (a record is one row, a row per choice or per QA window).</summary>
    public int MaxBatchRows { get; init; } = 32;
    /// <summary>…or when its oldest record has waited this long, whichever comes first.</summary>
    public TimeSpan MaxWait { get; init; } = TimeSpan.FromMilliseconds(5);
    /// <summary>Records waiting for a pass, at most; a request that would exceed it fails at once with <see cref="HostErrorKind.Overloaded"/>.</summary>
    public int MaxQueuedRecords { get; init; } = 1024;
    public BatchingMode Batching { get; init; } = BatchingMode.MixedAdapters;
    /// <summary>Where the backend's one-time notices go (e.g. "running on the CPU backend"); null: nowhere.</summary>
    public Action<string>? Notice { get; init; }

    internal void Validate()
    {
        if (MaxBatchRows <= 0) throw new ArgumentException($"MaxBatchRows must be positive, got {MaxBatchRows}");
        if (MaxWait < TimeSpan.Zero) throw new ArgumentException($"MaxWait must not be negative, got {MaxWait}");
        if (MaxQueuedRecords <= 0) throw new ArgumentException($"MaxQueuedRecords must be positive, got {MaxQueuedRecords}");
    }
}

/// <summary>Per-call options of <see cref="AdapterHost.PredictAsync(IReadOnlyList{PredictItem}, PredictOptions?, CancellationToken)"/>.</summary>
public sealed record PredictOptions
{
    /// <summary>How long the request may take from the call; records not yet computed by then fail with <see cref="HostErrorKind.DeadlineExceeded"/>.</summary>
    public TimeSpan? Timeout { get; init; }
}

/// <summary>One record for one adapter: the JSON object `fastprefix predict` would read from one line for that adapter's task.</summary>
public readonly record struct PredictItem(string Adapter, System.Text.Json.JsonElement Input);
