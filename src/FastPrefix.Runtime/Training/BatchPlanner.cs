using FastPrefix.Backends;

namespace FastPrefix.Training;

/// <summary>
/// The batches of one epoch: a shuffle that depends only on (seed, epoch); with length bucketing, examples are
/// sorted by length within chunks of <see cref="BucketChunkBatches"/> batches (little padding) and the
/// resulting batches shuffled (random order). Every example appears exactly once; only the last batch of an
/// epoch may be short.
/// </summary>
public static class BatchPlanner
{
    /// <summary>Batches per sorting chunk when bucketing by length.</summary>
    public const int BucketChunkBatches = 50;

    /// <summary>Batches per epoch for <paramref name="count"/> examples (the last one may be short).</summary>
    public static int BatchesPerEpoch(int count, int batchSize) => (count + batchSize - 1) / batchSize;

    public static int[][] Plan(int count, int batchSize, ulong seed, int epoch, bool lengthBucketing = false, Func<int, int>? lengthOf = null)
    {
        if (count <= 0) throw new ArgumentException($"no training examples (count {count})");
        if (batchSize <= 0) throw new ArgumentException($"batch size must be positive, got {batchSize}");
        if (lengthBucketing && lengthOf == null) throw new ArgumentException("length bucketing needs the examples' lengths");
        var rng = new SplitMixRandom(DropoutHash.Derive(DropoutHash.Derive(seed, 0x5EED), (ulong)epoch));
        var order = new int[count];
        for (int i = 0; i < count; i++) order[i] = i;
        rng.Shuffle(order.AsSpan());

        var batches = new int[BatchesPerEpoch(count, batchSize)][];
        if (!lengthBucketing)
        {
            for (int b = 0; b < batches.Length; b++)
                batches[b] = order[(b * batchSize)..Math.Min(count, (b + 1) * batchSize)];
            return batches;
        }

        int chunk = batchSize * BucketChunkBatches, next = 0;
        for (int start = 0; start < count; start += chunk)
        {
            int end = Math.Min(count, start + chunk);
            // stable: equal lengths keep their shuffled order
            var sorted = order[start..end].Select((ex, pos) => (ex, pos, len: lengthOf!(ex)))
                .OrderBy(t => t.len).ThenBy(t => t.pos).Select(t => t.ex).ToArray();
            for (int s = 0; s < sorted.Length; s += batchSize)
                batches[next++] = sorted[s..Math.Min(sorted.Length, s + batchSize)];
        }
        rng.Shuffle(batches.AsSpan());
        return batches;
    }
}
