namespace FastPrefix.Data.Tokenization;

/// <summary>
/// Character classification as the Hugging Face reference does it (see UnicodeTables.g.cs for where the
/// data comes from). Everything works on Unicode code points; ASCII takes a fast path.
/// </summary>
internal static partial class UnicodeTables
{
    /// <summary>Unicode White_Space (what Rust's <c>char::is_whitespace</c> and Oniguruma's \s accept).</summary>
    public static bool IsWhiteSpace(int cp) => cp switch
    {
        >= 0x09 and <= 0x0D => true,
        0x20 or 0x85 or 0xA0 or 0x1680 => true,
        >= 0x2000 and <= 0x200A => true,
        0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000 => true,
        _ => false,
    };

    /// <summary>Dropped by BERT's clean_text (NUL, U+FFFD, controls other than \t \n \r, format and private-use characters).</summary>
    public static bool IsBertRemoved(int cp)
    {
        if (cp < 0x80) return cp < 0x20 ? cp != 0x09 && cp != 0x0A && cp != 0x0D : cp == 0x7F;
        return InRanges(BertRemovedRanges, cp);
    }

    /// <summary>Isolated as its own word by BERT's pre-tokenizer.</summary>
    public static bool IsBertPunctuation(int cp)
    {
        if (cp < 0x80) return cp is (>= 0x21 and <= 0x2F) or (>= 0x3A and <= 0x40) or (>= 0x5B and <= 0x60) or (>= 0x7B and <= 0x7E);
        return InRanges(BertPunctuationRanges, cp);
    }

    /// <summary>Removed by BERT's strip_accents after NFD.</summary>
    public static bool IsNonSpacingMark(int cp) => cp >= 0x300 && InRanges(NonSpacingMarkRanges, cp);

    /// <summary>The characters of the CJK blocks BERT puts spaces around (tokenize_chinese_chars).</summary>
    public static bool IsChineseChar(int cp) =>
        cp is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF)
            or (>= 0x2A700 and <= 0x2B73F) or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B920 and <= 0x2CEAF)
            or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);

    /// <summary>\p{L} of the GPT-2 pre-tokenisation regex.</summary>
    public static bool IsLetter(int cp)
    {
        if (cp < 0x80) return (uint)((cp | 0x20) - 'a') <= 'z' - 'a';
        return InRanges(LetterRanges, cp);
    }

    /// <summary>\p{N} of the GPT-2 pre-tokenisation regex.</summary>
    public static bool IsNumber(int cp)
    {
        if (cp < 0x80) return (uint)(cp - '0') <= 9;
        return InRanges(NumberRanges, cp);
    }

    /// <summary>Canonical combining class, as the reference's NFD reorders by (0 for starters and unknown characters).</summary>
    public static int CombiningClass(int cp)
    {
        if (cp < 0x300) return 0;
        var t = CombiningClassRanges;
        int lo = 0, hi = t.Length / 3 - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (cp < t[3 * mid]) hi = mid - 1;
            else if (cp > t[3 * mid + 1]) lo = mid + 1;
            else return t[3 * mid + 2];
        }
        return 0;
    }

    /// <summary>
    /// Writes the full canonical decomposition of <paramref name="cp"/> (itself when it has none) into
    /// <paramref name="dest"/> (room for 4) and returns how many code points it wrote.
    /// </summary>
    public static int Decompose(int cp, Span<int> dest)
    {
        if (cp < 0xC0) { dest[0] = cp; return 1; }
        int s = cp - 0xAC00;
        if ((uint)s < 11172)
        {
            dest[0] = 0x1100 + s / 588;
            dest[1] = 0x1161 + s % 588 / 28;
            int t = s % 28;
            if (t == 0) return 2;
            dest[2] = 0x11A7 + t;
            return 3;
        }
        var table = Decompositions;
        int lo = 0, hi = table.Length / 5 - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            int key = table[5 * mid];
            if (cp < key) hi = mid - 1;
            else if (cp > key) lo = mid + 1;
            else
            {
                int n = 0;
                for (int k = 1; k <= 4 && table[5 * mid + k] != 0; k++) dest[n++] = table[5 * mid + k];
                return n;
            }
        }
        dest[0] = cp;
        return 1;
    }

    /// <summary>Lower-case mapping of one code point, except U+0130 (which lower-cases to two; callers handle it).</summary>
    public static int ToLowerSingle(int cp)
    {
        if (cp < 0x80) return (uint)(cp - 'A') <= 'Z' - 'A' ? cp + 0x20 : cp;
        var t = LowerCase;
        int lo = 0, hi = t.Length / 2 - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            int key = t[2 * mid];
            if (cp < key) hi = mid - 1;
            else if (cp > key) lo = mid + 1;
            else return t[2 * mid + 1];
        }
        return cp;
    }

    static bool InRanges(ReadOnlySpan<int> ranges, int cp)
    {
        int lo = 0, hi = ranges.Length / 2 - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (cp < ranges[2 * mid]) hi = mid - 1;
            else if (cp > ranges[2 * mid + 1]) lo = mid + 1;
            else return true;
        }
        return false;
    }

    /// <summary>
    /// The code point that starts at <paramref name="i"/> and its length in UTF-16 units; a lone surrogate is one
    /// code point, U+FFFD (as <see cref="ToCodePoints"/> counts).
    /// </summary>
    public static int CodePointAt(ReadOnlySpan<char> text, int i, out int width)
    {
        char c = text[i];
        if (!char.IsSurrogate(c)) { width = 1; return c; }
        width = char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
        return width == 2 ? char.ConvertToUtf32(c, text[i + 1]) : 0xFFFD;
    }

    /// <summary>
    /// The code points of <paramref name="text"/>; a lone surrogate counts as one code point, U+FFFD.
    /// </summary>
    public static int[] ToCodePoints(string text, out int count)
    {
        var cps = new int[text.Length];
        int n = 0;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                cps[n++] = char.ConvertToUtf32(c, text[i + 1]);
                i++;
            }
            else cps[n++] = char.IsSurrogate(c) ? 0xFFFD : c;
        }
        count = n;
        return cps;
    }
}
