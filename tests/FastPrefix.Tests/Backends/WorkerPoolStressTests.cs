using System.Runtime.InteropServices;
using FastPrefix.Backends.Cpu;

namespace FastPrefix.Tests.Backends;

/// <summary>
/// The CPU worker pool under oversubscription (busy background threads, more workers than cores): a call must
/// return only after every chunk of its job ran, and no chunk of a job may run after its call returned. This is
/// the race that crashed contended benchmarks (a late completion signal released the next job's caller).
/// </summary>
public unsafe class WorkerPoolStressTests
{
    /// <summary>Threads that keep every core busy, so pool threads are preempted at arbitrary points.</summary>
    sealed class BusyThreads : IDisposable
    {
        volatile bool _stop;
        readonly Thread[] _threads;
        public BusyThreads(int count)
        {
            _threads = Enumerable.Range(0, count).Select(_ => new Thread(() => { while (!_stop) Thread.SpinWait(64); }) { IsBackground = true }).ToArray();
            foreach (var t in _threads) t.Start();
        }
        public void Dispose() { _stop = true; foreach (var t in _threads) t.Join(); }
    }

    static void Spin(double microseconds)
    {
        long until = System.Diagnostics.Stopwatch.GetTimestamp() + (long)(microseconds * System.Diagnostics.Stopwatch.Frequency / 1e6);
        while (System.Diagnostics.Stopwatch.GetTimestamp() < until) Thread.SpinWait(10);
    }

    /// <summary>
    /// Many thousands of short jobs with more runnable threads than cores: plain preemption, as in the benchmark
    /// that crashed (4 runs in 19).
    /// </summary>
    [Fact]
    public void EveryJobCompletesUnderContention()
    {
        using var busy = new BusyThreads(2 * Environment.ProcessorCount);
        var pool = new WorkerPool(Math.Max(3, Environment.ProcessorCount + 1));
        RunJobs(pool, jobs: 20_000, microsecondsPerItem: 0.2);
    }

    /// <summary>
    /// The interleaving behind the race, forced through the pool's test seam: the caller is descheduled after its
    /// own chunks (so it reads the pending count only after a worker counted the last chunk down), and that worker
    /// is descheduled between counting down and signalling, past the start of the next job. The old pool's late
    /// signal then released the next job's caller while another worker still ran one of its chunks.
    /// </summary>
    [Fact]
    public void ALateCompletionSignalCannotEndTheNextJob()
    {
        int job = 0;
        Action<WorkerPool.PoolPoint> stall = point =>
        {
            bool worker = Thread.CurrentThread.Name?.StartsWith("FastPrefix CPU worker", StringComparison.Ordinal) == true;
            if (point == WorkerPool.PoolPoint.CallerWorkDone && Volatile.Read(ref job) % 2 == 1) Spin(500);
            if (point == WorkerPool.PoolPoint.LastChunkCounted && worker) Spin(1000);
        };
        RunJobs(new WorkerPool(2, stall), jobs: 600, microsecondsPerItem: 30, onJob: j => Volatile.Write(ref job, j));
    }

    /// <summary>Runs jobs of 64 items in 2..16 chunks; after each call, every item must have run exactly once and no
    /// chunk of a returned job may run afterwards.</summary>
    static void RunJobs(WorkerPool pool, int jobs, double microsecondsPerItem, Action<int>? onJob = null)
    {
        const int Items = 64;
        var hits = new int[Items];
        int returned = -1, late = 0, current = 0;
        var rng = new Random(7);
        Action<int, int> body = (from, to) =>
        {
            int j = Volatile.Read(ref current);
            for (int i = from; i < to; i++)
            {
                Spin(microsecondsPerItem);
                Interlocked.Increment(ref hits[i]);
            }
            if (Volatile.Read(ref returned) >= j) Interlocked.Increment(ref late);
        };
        for (int j = 0; j < jobs; j++)
        {
            Array.Clear(hits);
            Volatile.Write(ref current, j);
            onJob?.Invoke(j);
            pool.Run(Items, 2 + rng.Next(15), body, maxThreads: 64);
            for (int i = 0; i < Items; i++)
                Assert.True(hits[i] == 1, $"job {j}: item {i} had run {hits[i]} times when the call returned (expected exactly once)");
            Volatile.Write(ref returned, j);
        }
        Thread.Sleep(50);   // a chunk still running would be counted now
        Assert.Equal(0, Volatile.Read(ref late));
    }

    [Fact]
    public void ChunkExceptionsReachTheCallerAfterTheWholeJob()
    {
        var pool = new WorkerPool(3);
        int ran = 0;
        var e = Assert.Throws<InvalidOperationException>(() => pool.Run(8, 8, (from, _) =>
        {
            Thread.SpinWait(1000);
            Interlocked.Increment(ref ran);
            if (from == 3) throw new InvalidOperationException("chunk 3");
        }, maxThreads: 4));
        Assert.Equal("chunk 3", e.Message);
        Assert.Equal(8, ran);
    }

    [Fact]
    public void SgemmUnderContentionEqualsSingleThread()
    {
        using var busy = new BusyThreads(2 * Environment.ProcessorCount);
        var rng = new Random(3);
        // Encoder-like shapes with odd sizes, large enough that the driver splits work and packs B.
        (int m, int n, int k)[] shapes = [(257, 385, 129), (96, 1536, 384), (1024, 97, 301)];
        foreach (var (m, n, k) in shapes)
        {
            var a = Enumerable.Range(0, m * k).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            var b = Enumerable.Range(0, k * n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            var single = new float[m * n];
            var multi = new float[m * n];
            fixed (float* pa = a, pb = b, ps = single, pm = multi)
            {
                Sgemm.MultiplyManaged(false, false, m, n, k, 1f, pa, k, pb, n, 0f, ps, n, SgemmKernel.Auto, 1);
                for (int round = 0; round < 60; round++)
                {
                    new Span<float>(pm, m * n).Fill(float.NaN);
                    Sgemm.MultiplyManaged(false, false, m, n, k, 1f, pa, k, pb, n, 0f, pm, n, SgemmKernel.Auto, 4);
                    Assert.True(single.AsSpan().SequenceEqual(multi), $"{m}x{n}x{k} round {round}: 4-thread sgemm under contention differs from 1 thread");
                }
            }
        }
    }
}
