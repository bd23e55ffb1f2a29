namespace FastPrefix.Backends.Cpu;

/// <summary>Splits row loops over cores only when there is enough work to pay for the threads.</summary>
internal static class CpuParallel
{
    /// <summary>Roughly how many scalar operations make a parallel chunk worth scheduling.</summary>
    const long MinWorkPerChunk = 32_768;

    public static void For(int count, long workPerItem, Action<int, int> body)
    {
        if (count <= 0) return;
        int threads = Environment.ProcessorCount;
        long total = count * Math.Max(1, workPerItem);
        int chunks = (int)Math.Min(Math.Min(threads * 4L, count), Math.Max(1, total / MinWorkPerChunk));
        if (chunks <= 1) { body(0, count); return; }
        Parallel.For(0, chunks, c =>
        {
            int start = (int)((long)count * c / chunks), end = (int)((long)count * (c + 1) / chunks);
            if (end > start) body(start, end);
        });
    }
}
