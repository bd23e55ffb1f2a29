namespace FastPrefix.Backends.Cpu;

/// <summary>
/// Splits row loops over cores only when there is enough work to pay for the threads. Runs on a small pool of
/// persistent workers instead of Parallel.For, whose per-call tasks and loop state were most of a training
/// step's allocations (134 KB of 149 KB).
/// </summary>
internal static class CpuParallel
{
    /// <summary>Roughly how many scalar operations make a parallel chunk worth scheduling.</summary>
    const long MinWorkPerChunk = 32_768;

    static readonly WorkerPool Pool = new(Environment.ProcessorCount - 1);

    public static void For(int count, long workPerItem, Action<int, int> body)
    {
        if (count <= 0) return;
        int threads = Environment.ProcessorCount;
        long total = count * Math.Max(1, workPerItem);
        int chunks = (int)Math.Min(Math.Min(threads * 4L, count), Math.Max(1, total / MinWorkPerChunk));
        if (chunks <= 1) { body(0, count); return; }
        Pool.Run(count, chunks, body, threads);
    }

    /// <summary>body(i, i + 1) for every i in 0..count-1, on at most <paramref name="maxThreads"/> threads (the caller's included).</summary>
    public static void ForEachIndex(int count, int maxThreads, Action<int, int> body)
    {
        if (count <= 0) return;
        if (count == 1 || maxThreads <= 1) { body(0, count); return; }
        Pool.Run(count, count, body, maxThreads);
    }
}

/// <summary>
/// Persistent background workers that take chunks of one job at a time; the calling thread works too.
/// A call made while a job runs (nested in a chunk, or from another thread) runs inline on its caller.
/// Steady state allocates nothing: the job lives in fields, claims and completion are interlocked counters.
/// Completion is the pending count itself reaching zero, never a shared event: a reset/set event let a late
/// Set from one job's last chunk release the next job's caller while that job still ran (worker-pool race).
/// </summary>
internal sealed class WorkerPool
{
    readonly SemaphoreSlim _wake = new(0);
    readonly object _doneGate = new();   // the caller sleeps here when _pending is not yet zero
    readonly int _workers;
    int _busy;                 // 1 while a job is running
    Action<int, int>? _body;
    int _count, _chunks;
    int _unclaimed = -1;       // counts down as chunks are claimed; below 0: nothing to claim (publishing it starts a job)
    int _pending;              // chunks not finished yet
    Exception? _error;

    readonly Action<PoolPoint>? _testHook;   // tests stall threads at these points to force rare interleavings

    internal enum PoolPoint { CallerWorkDone, LastChunkCounted }

    public WorkerPool(int workers, Action<PoolPoint>? testHook = null)
    {
        _workers = Math.Max(0, workers);
        _testHook = testHook;
        for (int i = 0; i < _workers; i++)
            new Thread(Loop) { IsBackground = true, Name = $"FastPrefix CPU worker {i + 1}" }.Start();
    }

    public void Run(int count, int chunks, Action<int, int> body, int maxThreads)
    {
        int helpers = Math.Min(Math.Min(_workers, maxThreads - 1), chunks - 1);
        if (helpers <= 0 || Interlocked.CompareExchange(ref _busy, 1, 0) != 0) { body(0, count); return; }
        try
        {
            _body = body; _count = count; _chunks = chunks; _error = null;
            Volatile.Write(ref _pending, chunks);
            Volatile.Write(ref _unclaimed, chunks);   // publishes the job: everything above is visible to a claimer
            _wake.Release(helpers);
            Work();
            _testHook?.Invoke(PoolPoint.CallerWorkDone);
            WaitForPending();
            _body = null;
            if (_error is { } e) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e);
        }
        finally { Volatile.Write(ref _busy, 0); }
    }

    /// <summary>
    /// Returns once every chunk of this job has finished. The condition is re-read under the lock after every
    /// wake-up, so a pulse meant for an earlier job (or a spurious one) cannot end the wait early.
    /// </summary>
    void WaitForPending()
    {
        var spin = new SpinWait();
        while (Volatile.Read(ref _pending) > 0 && !spin.NextSpinWillYield) spin.SpinOnce();
        if (Volatile.Read(ref _pending) == 0) return;
        lock (_doneGate)
            while (Volatile.Read(ref _pending) > 0) Monitor.Wait(_doneGate);
    }

    void Loop()
    {
        while (true) { _wake.Wait(); Work(); }
    }

    /// <summary>Claims and runs chunks until none is left. A worker woken late finds none and goes back to sleep.</summary>
    void Work()
    {
        while (true)
        {
            int c = Interlocked.Decrement(ref _unclaimed);
            if (c < 0) return;
            int count = _count, chunks = _chunks;
            try { _body!((int)((long)count * c / chunks), (int)((long)count * (c + 1) / chunks)); }
            catch (Exception e) { Interlocked.CompareExchange(ref _error, e, null); }
            if (Interlocked.Decrement(ref _pending) == 0)
            {
                _testHook?.Invoke(PoolPoint.LastChunkCounted);
                lock (_doneGate) Monitor.PulseAll(_doneGate);
            }
        }
    }
}
