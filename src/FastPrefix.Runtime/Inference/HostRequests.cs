namespace FastPrefix.Inference;

/// <summary>One version of a named adapter in the host: what the engine holds, how its records are read, and its use count.</summary>
internal sealed class HostedAdapter(AdapterInfo info, EngineAdapter engine, RecordTask task)
{
    public AdapterInfo Info { get; } = info;
    public EngineAdapter Engine { get; } = engine;
    public RecordTask Task { get; } = task;
    /// <summary>Records of this version queued or in a pass (guarded by the host's lock); released when retired and zero.</summary>
    public int Pending;
    /// <summary>Removed or replaced: no new records; the engine releases it once <see cref="Pending"/> is zero.</summary>
    public bool Retired;
}

/// <summary>One PredictAsync call: its results in item order, completed once every record is done or the call fails.</summary>
internal sealed class PendingRequest(int count)
{
    readonly TaskCompletionSource<Prediction[]> _tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);
    readonly Prediction[] _results = new Prediction[count];
    int _remaining = count;

    public long StartTimestamp { get; } = System.Diagnostics.Stopwatch.GetTimestamp();
    public Task<Prediction[]> Task => _tcs.Task;
    public bool IsCompleted => _tcs.Task.IsCompleted;
    /// <summary>Cancellation and deadline registrations, disposed when the request completes.</summary>
    public IDisposable? Watch { get; set; }
    public List<QueuedRecord> Records { get; } = new(count);

    /// <summary>Stores one record's prediction; true when it was the last one and the request completed.</summary>
    public bool SetResult(int index, Prediction prediction)
    {
        _results[index] = prediction;
        if (Interlocked.Decrement(ref _remaining) != 0) return false;
        return Complete(() => _tcs.TrySetResult(_results));
    }

    public bool Fail(Exception e) => Complete(() => e is OperationCanceledException oce ? _tcs.TrySetCanceled(oce.CancellationToken) : _tcs.TrySetException(e));

    bool Complete(Func<bool> set)
    {
        if (!set()) return false;
        Watch?.Dispose();
        return true;
    }
}

/// <summary>One record of a request: its encoded rows, which have been scheduled, and their head outputs.</summary>
internal sealed class QueuedRecord(PendingRequest request, int index, HostedAdapter adapter, EncodedRecord encoded, long enqueuedTimestamp)
{
    public PendingRequest Request { get; } = request;
    public int Index { get; } = index;
    public HostedAdapter Adapter { get; } = adapter;
    public EncodedRecord Encoded { get; } = encoded;
    public long EnqueuedTimestamp { get; } = enqueuedTimestamp;
    public float[][] Outputs { get; } = new float[encoded.Rows.Count][];
    public LinkedListNode<QueuedRecord>? Node { get; set; }
    /// <summary>Rows handed to passes so far (a record longer than a pass is split over several).</summary>
    public int Scheduled;
    public int InFlight;
    public int Done;
    public bool Released;
    public int RowsLeft => Encoded.Rows.Count - Scheduled;
}
