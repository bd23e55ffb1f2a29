using System.Buffers;

namespace FastPrefix.Data.Tokenization;

/// <summary>
/// Finds the special tokens written literally in a text (as Hugging Face does before normalising: exact,
/// case-sensitive, leftmost-longest, on code points), so that "[MASK]" or "&lt;mask&gt;" in a text becomes that token.
/// A token with <c>LStrip</c> also swallows the whitespace before it.
/// </summary>
internal sealed class AddedTokenMatcher
{
    readonly record struct Entry(int[] CodePoints, int Id, bool LStrip);

    /// <summary>
    /// A piece of the text: plain text (<c>TokenId</c> &lt; 0) or one special token with the whitespace it swallowed
    /// (<c>LeadingWhitespace</c> code points). <c>Start</c>/<c>End</c> count UTF-16 units, <c>CodePointStart</c> and,
    /// for a special token, <c>CodePointEnd</c> code points.
    /// </summary>
    public readonly record struct Segment(int Start, int End, int CodePointStart, int CodePointEnd, int TokenId, int LeadingWhitespace);

    readonly Entry[] entries;
    readonly SearchValues<char> firstChars;

    public AddedTokenMatcher(IEnumerable<(string Content, int Id, bool LStrip)> tokens)
    {
        entries = tokens
            .Where(t => t.Content.Length > 0)
            .Select(t => new Entry(UnicodeTables.ToCodePoints(t.Content, out int n)[..n], t.Id, t.LStrip))
            .ToArray();
        var first = entries.Select(e => e.CodePoints[0] < 0x10000 ? (char)e.CodePoints[0] : char.ConvertFromUtf32(e.CodePoints[0])[0]).ToList();
        if (first.Contains('\uFFFD'))   // U+FFFD also matches a lone surrogate, which the text holds as itself
            for (int c = 0xD800; c <= 0xDFFF; c++) first.Add((char)c);
        firstChars = SearchValues.Create(first.Distinct().ToArray());
    }

    /// <summary>
    /// The text as plain pieces (never empty) and special tokens, in order. Lazy, and nothing is allocated per
    /// character: a caller that stops early (truncation) leaves the rest of the text unread but for a vectorised search
    /// for the special tokens' first characters.
    /// </summary>
    public IEnumerable<Segment> Split(string text)
    {
        int textStart = 0, textStartCp = 0;   // the pending plain text, in UTF-16 units and code points
        for (int from = 0; from < text.Length;)
        {
            int found = text.AsSpan(from).IndexOfAny(firstChars);
            if (found < 0) break;
            int i = from + found;
            from = i + 1;
            if (char.IsLowSurrogate(text[i]) && i > 0 && char.IsHighSurrogate(text[i - 1])) continue;   // inside a code point
            int c = UnicodeTables.CodePointAt(text, i, out _);
            int best = -1, bestEnd = 0;
            for (int e = 0; e < entries.Length; e++)
            {
                var t = entries[e].CodePoints;
                if (t[0] == c && (best < 0 || t.Length > entries[best].CodePoints.Length) && MatchEnd(text, i, t) is int end and >= 0)
                {
                    best = e; bestEnd = end;
                }
            }
            if (best < 0) continue;
            int start = i;
            if (entries[best].LStrip)
                while (start > textStart && UnicodeTables.IsWhiteSpace(text[start - 1])) start--;
            if (start > textStart) yield return new Segment(textStart, start, textStartCp, -1, -1, 0);
            int tokenStartCp = textStartCp + CodePointCount(text.AsSpan(textStart, start - textStart));
            int tokenEndCp = tokenStartCp + (i - start) + entries[best].CodePoints.Length;   // whitespace: one unit per code point
            yield return new Segment(start, bestEnd, tokenStartCp, tokenEndCp, entries[best].Id, i - start);
            from = textStart = bestEnd;
            textStartCp = tokenEndCp;
        }
        if (textStart < text.Length) yield return new Segment(textStart, text.Length, textStartCp, -1, -1, 0);
    }

    static int CodePointCount(ReadOnlySpan<char> text)
    {
        int n = 0;
        for (int i = 0; i < text.Length; n++)
        {
            UnicodeTables.CodePointAt(text, i, out int width);
            i += width;
        }
        return n;
    }

    /// <summary>Where <paramref name="token"/> ends (UTF-16) when the text has it at <paramref name="i"/>, else -1.</summary>
    static int MatchEnd(string text, int i, int[] token)
    {
        foreach (int t in token)
        {
            if (i >= text.Length || UnicodeTables.CodePointAt(text, i, out int width) != t) return -1;
            i += width;
        }
        return i;
    }
}
