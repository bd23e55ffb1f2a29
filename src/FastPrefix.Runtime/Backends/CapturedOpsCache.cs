namespace FastPrefix.Backends;

/// <summary>
/// Runs a fixed op sequence per key (a pass shape) as a replayed recording where the backend can record one
/// (<see cref="ICapturingBackend"/>), and as plain ops elsewhere. A key's first run issues the ops (kernels load,
/// workspaces grow); the next one records them and every later one replays the recording. A recording the backend
/// invalidated (it freed memory) is made again. Replaying is bit-identical to issuing the ops: the same kernels run on
/// the same buffers.
/// </summary>
public sealed class CapturedOpsCache<TKey> : IDisposable where TKey : notnull
{
    readonly ICapturingBackend? _backend;
    readonly Dictionary<TKey, CapturedOps?> _entries = [];   // null: ran once, not recorded yet

    /// <param name="backend">The backend the work runs on.</param>
    /// <param name="enabled">False: always issue the ops (for comparison and debugging).</param>
    public CapturedOpsCache(IBackend backend, bool enabled = true) => _backend = enabled ? backend as ICapturingBackend : null;

    /// <summary>True when work runs as recordings (the backend can record, and recording is on).</summary>
    public bool Records => _backend != null;

    /// <summary>Recordings made so far (first ones and those made again after an invalidation).</summary>
    public int Captures { get; private set; }

    /// <summary>Runs served by replaying a recording.</summary>
    public int Replays { get; private set; }

    /// <summary>Operations in the latest recording (0 before the first).</summary>
    public int Operations { get; private set; }

    /// <summary>Issues <paramref name="work"/>'s ops, or replays their recording for <paramref name="key"/>.</summary>
    public void Run(TKey key, Action work)
    {
        if (_backend == null) { work(); return; }
        if (!_entries.TryGetValue(key, out var recording))
        {
            work();
            _entries[key] = null;
            return;
        }
        if (recording is not { IsValid: true })
        {
            recording?.Dispose();
            _entries[key] = recording = _backend.Capture(work);
            Captures++;
            Operations = recording.Operations;
        }
        recording.Run();
        Replays++;
    }

    /// <summary>Forgets every key (their recordings are released): for when the buffers the work uses are replaced.</summary>
    public void Clear()
    {
        foreach (var recording in _entries.Values) recording?.Dispose();
        _entries.Clear();
    }

    public void Dispose() => Clear();
}
