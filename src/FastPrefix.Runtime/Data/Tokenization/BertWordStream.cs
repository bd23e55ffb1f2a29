using System.Text;

namespace FastPrefix.Data.Tokenization;

/// <summary>
/// BERT's normaliser and pre-tokenizer (BertNormalizer, BertPreTokenizer) as one pass over the text, a code point at a
/// time: clean text (drop controls, format and private-use characters, U+FFFD; whitespace becomes a space), spaces
/// around CJK ideographs, optionally NFD with its canonical reordering and non-spacing marks removed, optionally
/// lower-casing, then words split on whitespace and punctuation. Each word goes to the sink as soon as it ends, so
/// memory follows the current word (at most <c>maxChars</c> code points are kept), not the text.
/// </summary>
internal sealed class BertWordStream
{
    /// <summary>
    /// Receives one word: [<paramref name="start"/>, <paramref name="end"/>) in original code points and, unless it
    /// has more than maxChars code points (<paramref name="tooLong"/>), its normalised UTF-16 characters with the
    /// original code point each came from. Returns true to stop: the stream then drops everything after this word.
    /// </summary>
    public delegate bool WordSink(ReadOnlySpan<char> chars, ReadOnlySpan<int> origins, int start, int end, bool tooLong);

    readonly bool lowerCase, stripAccents, chineseChars;
    readonly int maxChars;
    readonly WordSink sink;

    // NFD's canonical reordering sorts each run of non-starters (combining class > 0) by class; a starter ends the run.
    // Only the marks that survive accent stripping are held (the others are dropped whatever their order).
    int[] runCodePoints = new int[8], runOrigins = new int[8];
    int runLength;

    // The current word.
    char[] chars = new char[32];
    int[] origins = new int[32];
    int length, codePoints, start, last;

    public BertWordStream(bool lowerCase, bool stripAccents, bool chineseChars, int maxChars, WordSink sink)
    {
        this.lowerCase = lowerCase;
        this.stripAccents = stripAccents;
        this.chineseChars = chineseChars;
        this.maxChars = maxChars;
        this.sink = sink;
    }

    /// <summary>The sink asked to stop; later input is ignored.</summary>
    public bool Stopped { get; private set; }

    /// <summary>One code point of the original text, at code point index <paramref name="origin"/>.</summary>
    public void Add(int c, int origin)
    {
        if (Stopped || UnicodeTables.IsBertRemoved(c)) return;
        if (UnicodeTables.IsWhiteSpace(c)) { Normalised(' ', origin); return; }
        bool cjk = chineseChars && UnicodeTables.IsChineseChar(c);
        if (cjk) Normalised(' ', origin);
        if (stripAccents)
        {
            Span<int> decomposed = stackalloc int[4];
            int k = UnicodeTables.Decompose(c, decomposed);
            for (int j = 0; j < k; j++) Normalised(decomposed[j], origin);
        }
        else Normalised(c, origin);
        if (cjk) Normalised(' ', origin);
    }

    /// <summary>The end of a piece of text (before a special token, or of the whole text): ends the current word.</summary>
    public void End()
    {
        FlushRun();
        EndWord();
    }

    /// <summary>A code point after cleaning, CJK spacing and decomposition: reordered and filtered when stripping accents.</summary>
    void Normalised(int c, int origin)
    {
        if (!stripAccents) { Split(c, origin); return; }
        if (UnicodeTables.CombiningClass(c) == 0)
        {
            FlushRun();
            if (!UnicodeTables.IsNonSpacingMark(c)) Split(c, origin);
            return;
        }
        if (UnicodeTables.IsNonSpacingMark(c)) return;
        if (runLength == runCodePoints.Length)
        {
            Array.Resize(ref runCodePoints, 2 * runLength);
            Array.Resize(ref runOrigins, 2 * runLength);
        }
        runCodePoints[runLength] = c;
        runOrigins[runLength++] = origin;
    }

    /// <summary>Passes on the held run of non-starters, stably sorted by combining class.</summary>
    void FlushRun()
    {
        for (int i = 1; i < runLength; i++)
        {
            int c = runCodePoints[i], o = runOrigins[i], cc = UnicodeTables.CombiningClass(c), j = i;
            for (; j > 0 && UnicodeTables.CombiningClass(runCodePoints[j - 1]) > cc; j--)
            {
                runCodePoints[j] = runCodePoints[j - 1];
                runOrigins[j] = runOrigins[j - 1];
            }
            runCodePoints[j] = c;
            runOrigins[j] = o;
        }
        int n = runLength;
        runLength = 0;
        for (int i = 0; i < n; i++) Split(runCodePoints[i], runOrigins[i]);
    }

    /// <summary>Lower-cases a normalised code point and splits words on whitespace and punctuation.</summary>
    void Split(int c, int origin)
    {
        if (lowerCase)
        {
            if (c == 0x130)
            {
                // U+0130 lower-cases to "i" + U+0307: neither is whitespace nor punctuation.
                Append('i', origin);
                Append(0x307, origin);
                return;
            }
            c = UnicodeTables.ToLowerSingle(c);
        }
        if (UnicodeTables.IsWhiteSpace(c)) { EndWord(); return; }
        if (UnicodeTables.IsBertPunctuation(c))
        {
            EndWord();
            Append(c, origin);
            EndWord();
            return;
        }
        Append(c, origin);
    }

    void Append(int c, int origin)
    {
        if (Stopped) return;
        if (codePoints++ == 0) start = origin;
        last = origin;
        if (codePoints > maxChars) return;   // the word will be one unknown token: its characters are not needed
        if (length + 2 > chars.Length)
        {
            Array.Resize(ref chars, 2 * chars.Length);
            Array.Resize(ref origins, 2 * origins.Length);
        }
        int units = new Rune(c).EncodeToUtf16(chars.AsSpan(length));
        for (int u = 0; u < units; u++) origins[length++] = origin;
    }

    void EndWord()
    {
        if (codePoints == 0 || Stopped) return;
        bool tooLong = codePoints > maxChars;
        Stopped = sink(chars.AsSpan(0, tooLong ? 0 : length), origins.AsSpan(0, tooLong ? 0 : length), start, last + 1, tooLong);
        length = codePoints = 0;
    }
}
