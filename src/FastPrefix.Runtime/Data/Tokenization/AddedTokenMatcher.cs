namespace FastPrefix.Data.Tokenization;

/// <summary>
/// Finds the special tokens written literally in a text (as Hugging Face does before normalising: exact,
/// case-sensitive, leftmost-longest), so that "[MASK]" or "&lt;mask&gt;" in a text becomes that token.
/// A token with <c>LStrip</c> also swallows the whitespace before it.
/// </summary>
internal sealed class AddedTokenMatcher
{
    readonly record struct Entry(int[] CodePoints, int Id, bool LStrip);

    /// <summary>A piece of the text: plain text (<c>TokenId</c> &lt; 0) or one special token.</summary>
    public readonly record struct Segment(int Start, int End, int TokenId, int LeadingWhitespace);

    readonly Entry[] entries;

    public AddedTokenMatcher(IEnumerable<(string Content, int Id, bool LStrip)> tokens)
    {
        entries = tokens
            .Where(t => t.Content.Length > 0)
            .Select(t => new Entry(UnicodeTables.ToCodePoints(t.Content, out int n)[..n], t.Id, t.LStrip))
            .ToArray();
    }

    public List<Segment> Split(int[] cps, int n)
    {
        var result = new List<Segment>(4);
        int textStart = 0;
        for (int i = 0; i < n; i++)
        {
            int best = -1, bestLen = 0;
            for (int e = 0; e < entries.Length; e++)
            {
                var t = entries[e].CodePoints;
                if (t.Length > bestLen && t[0] == cps[i] && i + t.Length <= n && cps.AsSpan(i, t.Length).SequenceEqual(t))
                {
                    best = e; bestLen = t.Length;
                }
            }
            if (best < 0) continue;
            int start = i;
            if (entries[best].LStrip)
                while (start > textStart && UnicodeTables.IsWhiteSpace(cps[start - 1])) start--;
            if (start > textStart) result.Add(new Segment(textStart, start, -1, 0));
            result.Add(new Segment(start, i + bestLen, entries[best].Id, i - start));
            textStart = i + bestLen;
            i = textStart - 1;
        }
        if (textStart < n || result.Count == 0) result.Add(new Segment(textStart, n, -1, 0));
        return result;
    }
}
