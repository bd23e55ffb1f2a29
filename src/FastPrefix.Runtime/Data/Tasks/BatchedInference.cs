namespace FastPrefix.Data.Tasks;

/// <summary>Runs inference over items in batches of similar length (less padding), returning results in item order.</summary>
public static class BatchedInference
{
    public static T[] Run<T>(int count, int batchSize, Func<int, int> lengthOf, Func<int[], T[]> runBatch)
    {
        if (batchSize <= 0) throw new ArgumentException($"batch size must be positive, got {batchSize}");
        var order = Enumerable.Range(0, count).OrderBy(lengthOf).ThenBy(i => i).ToArray();
        var results = new T[count];
        for (int s = 0; s < count; s += batchSize)
        {
            var idx = order[s..Math.Min(count, s + batchSize)];
            var r = runBatch(idx);
            for (int j = 0; j < idx.Length; j++) results[idx[j]] = r[j];
        }
        return results;
    }
}
