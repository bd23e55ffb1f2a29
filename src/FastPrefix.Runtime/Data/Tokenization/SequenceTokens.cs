namespace FastPrefix.Data.Tokenization;

/// <summary>
/// The tokens of one input sequence before the template is applied: ids, offsets (code points of the
/// original text), word indices, and for byte-level BPE how many space characters lead and trail each
/// token string (for trim_offsets).
/// </summary>
internal sealed class SequenceTokens
{
    int[] ids = new int[16], starts = new int[16], ends = new int[16], words = new int[16], lead = new int[16], trail = new int[16];
    bool[] added = new bool[16];

    public int Count { get; private set; }

    public int Id(int i) => ids[i];
    public int Start(int i) => starts[i];
    public int End(int i) => ends[i];
    public int Word(int i) => words[i];

    public void Add(int id, int start, int end, int word, int leadingSpaces = 0, int trailingSpaces = 0)
    {
        if (Count == ids.Length) Grow();
        int i = Count++;
        ids[i] = id; starts[i] = start; ends[i] = end; words[i] = word; lead[i] = leadingSpaces; trail[i] = trailingSpaces;
        added[i] = false;
    }

    /// <summary>Adds a special token that was written in the text (its own word).</summary>
    public void AddSpecial(int id, int start, int end, int word, int leadingSpaces)
    {
        Add(id, start, end, word, leadingSpaces);
        added[Count - 1] = true;
    }

    /// <summary>Keeps the first <paramref name="n"/> tokens (no-op when there are fewer).</summary>
    public void Truncate(int n)
    {
        if (n < Count) Count = Math.Max(0, n);
    }

    /// <summary>
    /// Hugging Face's ByteLevel trim_offsets: moves the start past leading spaces and the end before trailing
    /// ones; with add_prefix_space, a single leading space on the sequence's first token (or on a token that
    /// starts at 0) is the added one and is kept.
    /// </summary>
    public void TrimOffsets(bool addPrefixSpace)
    {
        for (int i = 0; i < Count; i++)
        {
            int l = lead[i], t = trail[i];
            if (l == 0 && t == 0) continue;
            int s = starts[i], e = ends[i];
            if (l > 0)
            {
                if (addPrefixSpace && l == 1 && (i == 0 || s == 0)) l = 0;
                s = Math.Min(s + l, e);
            }
            if (t > 0 && e >= t) e = Math.Max(e - t, s);
            starts[i] = s; ends[i] = e;
        }
    }

    /// <summary>
    /// The reference's early stop when truncation is on: words are taken one by one and, after a word
    /// that the model tokenized (not after a special token written in the text), it stops once at least
    /// <paramref name="maxLength"/> tokens are there. Returns how many leading tokens that keeps.
    /// </summary>
    public int TokensBeforeEarlyStop(int maxLength)
    {
        int i = 0;
        while (i < Count)
        {
            int j = i + 1;
            while (j < Count && words[j] == words[i]) j++;
            if (!added[i] && j >= maxLength) return j;
            i = j;
        }
        return Count;
    }

    void Grow()
    {
        int n = ids.Length * 2;
        Array.Resize(ref ids, n); Array.Resize(ref starts, n); Array.Resize(ref ends, n);
        Array.Resize(ref words, n); Array.Resize(ref lead, n); Array.Resize(ref trail, n); Array.Resize(ref added, n);
    }
}

/// <summary>Truncation and the special-token templates shared by both tokenizers.</summary>
internal static class EncodingAssembler
{
    /// <summary>
    /// Truncates to <paramref name="budget"/> content tokens the way Hugging Face tokenizers (Rust, 0.23)
    /// does "longest_first". With truncation on, the reference stops tokenizing a sequence early (see
    /// <see cref="SequenceTokens.TokensBeforeEarlyStop"/>; what follows could not survive anyway), and the
    /// lengths it compares are those of what it tokenized. Then a single sequence keeps its first
    /// <paramref name="budget"/> tokens; for a pair, when the shorter fits beside the longer, only the longer
    /// is cut, else both are cut to half the budget, the longer (the second on a tie) getting the odd token.
    /// Returns how many tokens were dropped in all (of those tokenized: text after an early stop is never tokenized).
    /// </summary>
    public static int Truncate(SequenceTokens first, SequenceTokens? second, int budget, int maxLength)
    {
        int total = first.Count + (second?.Count ?? 0);
        if (total <= budget) return 0;   // (a sequence that stopped early has at least maxLength > budget tokens, so never here)
        first.Truncate(first.TokensBeforeEarlyStop(maxLength));
        second?.Truncate(second.TokensBeforeEarlyStop(maxLength));
        int n1 = first.Count, n2 = second?.Count ?? 0;
        if (n1 + n2 > budget)
        {
            if (second is null) first.Truncate(budget);
            else
            {
                bool swap = n1 > n2;
                int shortest = swap ? n2 : n1;
                int longest = shortest > budget ? shortest : Math.Max(shortest, budget - shortest);
                if (shortest + longest > budget)
                {
                    shortest = budget / 2;
                    longest = shortest + budget % 2;
                }
                first.Truncate(swap ? longest : shortest);
                second.Truncate(swap ? shortest : longest);
            }
        }
        return total - first.Count - (second?.Count ?? 0);
    }

    /// <summary>
    /// Applies the template: <c>cls A sep</c> / <c>cls A sep B sep</c> (BERT, with type ids) or
    /// <c>cls A sep sep B sep</c> (RoBERTa, <paramref name="doubleSeparator"/>, no type ids).
    /// </summary>
    public static TokenizedText Build(SequenceTokens a, SequenceTokens? b, int clsId, int sepId, bool doubleSeparator, bool typeIds, int numTruncated)
    {
        int specials = b is null ? 2 : doubleSeparator ? 4 : 3;
        int n = a.Count + (b?.Count ?? 0) + specials;
        var ids = new int[n];
        var types = typeIds ? new int[n] : null;
        var offsets = new (int, int)[n];
        var wordIds = new int?[n];
        var seqIds = new int?[n];
        int k = 0;
        ids[k++] = clsId;
        for (int i = 0; i < a.Count; i++, k++)
        {
            ids[k] = a.Id(i); offsets[k] = (a.Start(i), a.End(i)); wordIds[k] = a.Word(i); seqIds[k] = 0;
        }
        ids[k++] = sepId;
        if (b is not null)
        {
            if (doubleSeparator) ids[k++] = sepId;
            int bStart = k;
            for (int i = 0; i < b.Count; i++, k++)
            {
                ids[k] = b.Id(i); offsets[k] = (b.Start(i), b.End(i)); wordIds[k] = b.Word(i); seqIds[k] = 1;
            }
            ids[k++] = sepId;
            if (types is not null) types.AsSpan(bStart).Fill(1);
        }
        return new TokenizedText(ids, types, offsets, wordIds, seqIds, numTruncated);
    }

    /// <summary>Content tokens allowed by <paramref name="maxLength"/> (int.MaxValue when null).</summary>
    public static int Budget(int? maxLength, int specials, string paramName)
    {
        if (maxLength is not int max) return int.MaxValue;
        if (max < specials)
            throw new ArgumentOutOfRangeException(paramName, max, $"maxLength must be at least {specials}, the number of special tokens the template adds.");
        return max - specials;
    }
}
