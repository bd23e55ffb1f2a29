using FastPrefix.Adapters;

namespace FastPrefix.Inference;

/// <summary>What the host tells about a loaded adapter (GET /v1/adapters lists these).</summary>
public sealed record AdapterInfo
{
    public required string Name { get; init; }
    /// <summary>"seqcls", "tokcls", "qa" or "mc".</summary>
    public required string Task { get; init; }
    /// <summary>Label names (classification and tagging); empty otherwise.</summary>
    public required IReadOnlyList<string> Labels { get; init; }
    public required int PrefixLength { get; init; }
    public required int FirstLayer { get; init; }
    /// <summary>"from-zero" or "after-prefix".</summary>
    public required string Positions { get; init; }
    public required int MaxSeqLength { get; init; }
    /// <summary>"file" (adapter.safetensors) or "peft" (a PEFT prefix-tuning folder).</summary>
    public required string Format { get; init; }
    /// <summary>The file or folder it was loaded from (full path).</summary>
    public required string Source { get; init; }
    /// <summary>Counts loads under this name, so a client can tell a replaced adapter from the one it knew.</summary>
    public required int Version { get; init; }
    public required DateTimeOffset LoadedAt { get; init; }

    internal static AdapterInfo Of(string name, AdapterContents contents, string format, int version, int outputs, Model.EncoderConfig backbone) => new()
    {
        Name = name,
        Task = AdapterMetadata.TaskName(contents.Metadata.Task),
        Labels = contents.Metadata.LabelNames(outputs),
        PrefixLength = contents.Metadata.PrefixLength,
        FirstLayer = contents.Metadata.FirstLayer,
        Positions = AdapterMetadata.PositionsName(contents.Metadata.Positions),
        MaxSeqLength = Data.Tasks.TaskDataOptions.ForAdapter(contents.Metadata, backbone).MaxSeqLength,
        Format = format,
        Source = contents.Source,
        Version = version,
        LoadedAt = DateTimeOffset.UtcNow,
    };
}

/// <summary>Counters since the host started (the load benchmark reads batch fill from them).</summary>
public sealed record HostStatistics(long Passes, long Rows, long PassAdapters, long Completed, long Overloaded, long DeadlineExceeded,
    long Cancelled, long Failed, int MaxBatchRows)
{
    /// <summary>Mean rows per encoder pass over the maximum: 1 when every pass was full.</summary>
    public double BatchFill => Passes == 0 ? 0 : (double)Rows / Passes / MaxBatchRows;
    /// <summary>Mean number of distinct adapters per pass.</summary>
    public double AdaptersPerPass => Passes == 0 ? 0 : (double)PassAdapters / Passes;
}
