namespace FastPrefix.Data.Tokenization;

/// <summary>
/// The merge rules of a byte-level BPE model (a pair of ids → its rank and the merged id) and their application to
/// one word as Hugging Face tokenizers' BPE does it (<c>Word::merge_all</c>): a priority queue of adjacent pairs over
/// a linked list of symbols, lowest rank first and leftmost on a tie, O(n log n) in the word's length.
/// </summary>
internal sealed class BpeMerges
{
    readonly Dictionary<long, (int Rank, int Merged)> rules = new();

    /// <summary>Number of distinct pairs.</summary>
    public int Count => rules.Count;

    /// <summary>Sets the rule of a pair; a pair given twice keeps its last rank, as in Hugging Face.</summary>
    public void Set(int left, int right, int rank, int merged) => rules[Key(left, right)] = (rank, merged);

    public bool TryGet(int left, int right, out int rank, out int merged)
    {
        bool found = rules.TryGetValue(Key(left, right), out var rule);
        (rank, merged) = rule;
        return found;
    }

    /// <summary>
    /// The dictionary key of a pair, multiplied by an odd constant (a bijection) so that its hash spreads. The plain
    /// <c>left &lt;&lt; 32 | right</c> hashes to <c>left ^ right</c>, which puts every pair of equal ids ("! !", "!! !!",
    /// "Ġ Ġ", …: 244 rules of roberta-base) in one bucket, and a run of 1M '!' took seconds of chain walking.
    /// </summary>
    static long Key(int left, int right) => unchecked((((long)left << 32) | (uint)right) * (long)0x9E3779B97F4A7C15UL);

    /// <summary>
    /// Merges a word in place: on entry <paramref name="ids"/>[i] and <paramref name="lengths"/>[i] (in characters) are
    /// its symbols; on return the first k of each (k is returned) are the merged symbols, in order.
    /// </summary>
    public int Apply(Span<int> ids, Span<int> lengths)
    {
        int m = ids.Length;
        if (m < 2) return m;
        Span<int> prev = m <= 256 ? stackalloc int[m] : new int[m];
        Span<int> next = m <= 256 ? stackalloc int[m] : new int[m];
        for (int i = 0; i < m; i++) { prev[i] = i - 1; next[i] = i + 1 < m ? i + 1 : -1; }

        // Entries (position of the pair's left symbol, merged id), by (rank, position).
        var queue = new PriorityQueue<(int Pos, int Merged), long>(m);
        for (int i = 0; i + 1 < m; i++)
            if (TryGet(ids[i], ids[i + 1], out int rank, out int merged)) queue.Enqueue((i, merged), Priority(rank, i));
        while (queue.TryDequeue(out var top, out _))
        {
            // An earlier merge may have made the entry stale; Hugging Face skips it when its left symbol was absorbed,
            // is now the last one, or no longer makes the same merged id with its right neighbour. (A symbol only grows
            // rightwards, so the same merged id at the same position means the same pair.)
            int pos = top.Pos, right = next[pos];
            if (lengths[pos] == 0 || right < 0) continue;
            if (!TryGet(ids[pos], ids[right], out _, out int now) || now != top.Merged) continue;

            ids[pos] = top.Merged;
            lengths[pos] += lengths[right];
            lengths[right] = 0;
            int after = next[right];
            next[pos] = after;
            if (after >= 0) prev[after] = pos;
            int before = prev[pos];
            if (before >= 0 && TryGet(ids[before], ids[pos], out int leftRank, out int leftMerged))
                queue.Enqueue((before, leftMerged), Priority(leftRank, before));
            if (after >= 0 && TryGet(ids[pos], ids[after], out int rightRank, out int rightMerged))
                queue.Enqueue((pos, rightMerged), Priority(rightRank, pos));
        }

        int k = 0;
        for (int i = 0; i < m; i++)
            if (lengths[i] > 0) { ids[k] = ids[i]; lengths[k++] = lengths[i]; }
        return k;
    }

    static long Priority(int rank, int pos) => ((long)rank << 32) | (uint)pos;
}
