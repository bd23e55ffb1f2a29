using System.Text;

namespace FastPrefix.Data.Tokenization;

/// <summary>
/// BERT's tokenizer, as Hugging Face <c>transformers</c> runs it (BertNormalizer, BertPreTokenizer, WordPiece,
/// BertProcessing): clean text (drop controls, format and private-use characters, U+FFFD; whitespace becomes
/// a space), spaces around CJK ideographs, optional NFD accent stripping and lower-casing, split on
/// whitespace and punctuation, then greedy longest-match WordPiece with "##" continuations; a word longer
/// than 100 characters, or one that cannot be covered, is a single [UNK].
/// </summary>
public sealed class WordPieceTokenizer : ITextTokenizer
{
    /// <summary>Words longer than this many characters become a single [UNK].</summary>
    public const int MaxInputCharsPerWord = 100;
    const string ContinuationPrefix = "##";

    readonly Dictionary<string, int> vocab;
    readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> pieces;
    readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> continuations;
    readonly string[] idToToken;
    readonly bool lowerCase, stripAccents, chineseChars;
    readonly AddedTokenMatcher specials;

    public string Kind => "wordpiece";
    public int PadId { get; }
    public int ClsId { get; }
    public int SepId { get; }
    public int UnkId { get; }
    public int? MaskId { get; }
    public int VocabSize => idToToken.Length;

    /// <summary>Whether the text is lower-cased.</summary>
    public bool LowerCase => lowerCase;

    /// <summary>Whether accents are stripped (NFD, then marks removed).</summary>
    public bool StripAccents => stripAccents;

    WordPieceTokenizer(string[] idToToken, Dictionary<string, int> vocab, bool lowerCase, bool stripAccents, bool chineseChars, SpecialTokenNames names, string vocabPath)
    {
        this.idToToken = idToToken;
        this.vocab = vocab;
        this.lowerCase = lowerCase;
        this.stripAccents = stripAccents;
        this.chineseChars = chineseChars;
        pieces = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        var cont = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (token, id) in vocab)
            if (token.Length > ContinuationPrefix.Length && token.StartsWith(ContinuationPrefix, StringComparison.Ordinal))
                cont[token[ContinuationPrefix.Length..]] = id;
        continuations = cont.GetAlternateLookup<ReadOnlySpan<char>>();

        int Require(string token, string role) => vocab.TryGetValue(token, out int id) ? id
            : throw new TokenizerException($"the {role} token \"{token}\" is not in the vocabulary", vocabPath);
        UnkId = Require(names.Unk, "unknown");
        ClsId = Require(names.Cls, "classification");
        SepId = Require(names.Sep, "separator");
        PadId = Require(names.Pad, "padding");
        MaskId = names.Mask is not null && vocab.TryGetValue(names.Mask, out int m) ? m : null;

        var added = new List<(string, int, bool)>();
        foreach (var t in new[] { names.Pad, names.Unk, names.Cls, names.Sep, names.Mask })
            if (t is not null && vocab.TryGetValue(t, out int id)) added.Add((t, id, false));
        specials = new AddedTokenMatcher(added);
    }

    /// <summary>
    /// Loads a BERT vocabulary (one token per line, the id is the line index).
    /// <paramref name="stripAccents"/> null follows <paramref name="lowerCase"/>, as in Hugging Face.
    /// </summary>
    public static WordPieceTokenizer FromVocabFile(string vocabTxt, bool lowerCase = true, bool? stripAccents = null, bool tokenizeChineseChars = true) =>
        FromVocabFile(vocabTxt, lowerCase, stripAccents, tokenizeChineseChars, SpecialTokenNames.Bert);

    internal static WordPieceTokenizer FromVocabFile(string vocabTxt, bool lowerCase, bool? stripAccents, bool tokenizeChineseChars, SpecialTokenNames names)
    {
        var (idToToken, vocab) = ReadVocab(vocabTxt);
        return new WordPieceTokenizer(idToToken, vocab, lowerCase, stripAccents ?? lowerCase, tokenizeChineseChars, names, vocabTxt);
    }

    static (string[], Dictionary<string, int>) ReadVocab(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TokenizerException("cannot read the vocabulary: " + e.Message, path, null, e);
        }
        var utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        var tokens = new List<string>(bytes.Length / 8 + 16);
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        int pos = 0, line = 0;
        while (pos < bytes.Length)
        {
            int nl = Array.IndexOf(bytes, (byte)'\n', pos);
            int end = nl < 0 ? bytes.Length : nl;
            int next = nl < 0 ? bytes.Length : nl + 1;
            if (end > pos && bytes[end - 1] == '\r') end--;
            line++;
            string token;
            try { token = utf8.GetString(bytes, pos, end - pos); }
            catch (DecoderFallbackException e) { throw new TokenizerException("the line is not valid UTF-8", path, line, e); }
            if (token.Length == 0) throw new TokenizerException("empty line: every line must hold one token", path, line);
            vocab[token] = tokens.Count;   // a repeated token maps to its last line, as in Hugging Face
            tokens.Add(token);
            pos = next;
        }
        if (tokens.Count == 0) throw new TokenizerException("the vocabulary is empty", path);
        return (tokens.ToArray(), vocab);
    }

    public int SpecialTokensCount(bool pair) => pair ? 3 : 2;

    public IReadOnlyList<string> TokenStrings(IReadOnlyList<int> ids)
    {
        var result = new string[ids.Count];
        for (int i = 0; i < result.Length; i++)
        {
            int id = ids[i];
            if ((uint)id >= (uint)idToToken.Length) throw new ArgumentOutOfRangeException(nameof(ids), id, "id outside the vocabulary");
            result[i] = idToToken[id];
        }
        return result;
    }

    public TokenizedText Encode(string text, string? pair = null, int? maxLength = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        int budget = EncodingAssembler.Budget(maxLength, SpecialTokensCount(pair is not null), nameof(maxLength));
        var a = EncodeSequence(text, maxLength);
        var b = pair is null ? null : EncodeSequence(pair, maxLength);
        int dropped = maxLength is int max ? EncodingAssembler.Truncate(a, b, budget, max) : 0;
        return EncodingAssembler.Build(a, b, ClsId, SepId, doubleSeparator: false, typeIds: true, dropped);
    }

    /// <param name="stopAt">With truncation, the reference's early stop (see <see cref="ByteLevelBpeTokenizer"/>): the text
    /// after the word that brings the count to this is not tokenized.</param>
    internal SequenceTokens EncodeSequence(string text, int? stopAt = null)
    {
        var seq = new SequenceTokens();
        var cps = UnicodeTables.ToCodePoints(text, out int n);
        int word = 0;
        foreach (var seg in specials.Split(cps, n))
        {
            if (seg.TokenId >= 0) seq.AddSpecial(seg.TokenId, seg.Start, seg.End, word++, 0);
            else if (seg.End > seg.Start && EncodeText(cps, seg.Start, seg.End, seq, ref word, stopAt)) { seq.StoppedEarly = true; break; }
        }
        return seq;
    }

    /// <summary>Normalises cps[start..end), splits it into words and word-pieces them into <paramref name="seq"/>.</summary>
    /// <summary>Returns true when it stopped early: right after a word that brought the count to <paramref name="stopAt"/>.</summary>
    bool EncodeText(int[] cps, int start, int end, SequenceTokens seq, ref int word, int? stopAt)
    {
        // 1. clean text, CJK spacing, NFD: code points with the index of the original code point each came from.
        int cap = (end - start) * 4 + 4;
        var ncp = new int[cap];
        var norig = new int[cap];
        int m = 0;
        Span<int> dec = stackalloc int[4];
        for (int i = start; i < end; i++)
        {
            int c = cps[i];
            if (UnicodeTables.IsBertRemoved(c)) continue;
            if (UnicodeTables.IsWhiteSpace(c)) { ncp[m] = ' '; norig[m++] = i; continue; }
            bool cjk = chineseChars && UnicodeTables.IsChineseChar(c);
            if (cjk) { ncp[m] = ' '; norig[m++] = i; }
            if (stripAccents)
            {
                int k = UnicodeTables.Decompose(c, dec);
                for (int j = 0; j < k; j++) { ncp[m] = dec[j]; norig[m++] = i; }
            }
            else { ncp[m] = c; norig[m++] = i; }
            if (cjk) { ncp[m] = ' '; norig[m++] = i; }
        }

        // 2. accent stripping: canonical reordering of combining marks, then marks dropped.
        if (stripAccents)
        {
            CanonicalReorder(ncp, norig, m);
            int w = 0;
            for (int r = 0; r < m; r++)
                if (!UnicodeTables.IsNonSpacingMark(ncp[r])) { ncp[w] = ncp[r]; norig[w++] = norig[r]; }
            m = w;
        }

        // 3. lower-case into UTF-16, splitting into words on whitespace and punctuation as we go.
        var chars = new char[2 * m + 2];
        var corig = new int[2 * m + 2];
        int len = 0, wordStart = 0;
        for (int r = 0; r < m; r++)
        {
            int c = ncp[r], o = norig[r];
            if (lowerCase)
            {
                if (c == 0x130)
                {
                    // U+0130 lower-cases to "i" + U+0307: neither is whitespace nor punctuation.
                    chars[len] = 'i'; corig[len++] = o;
                    chars[len] = '\u0307'; corig[len++] = o;
                    continue;
                }
                c = UnicodeTables.ToLowerSingle(c);
            }
            if (UnicodeTables.IsWhiteSpace(c))
            {
                if (len > wordStart && WordPieceStops(chars, corig, wordStart, len, seq, word++, stopAt)) return true;
                wordStart = len;
                continue;
            }
            bool punct = UnicodeTables.IsBertPunctuation(c);
            if (punct && len > wordStart) { if (WordPieceStops(chars, corig, wordStart, len, seq, word++, stopAt)) return true; wordStart = len; }
            if (c < 0x10000) { chars[len] = (char)c; corig[len++] = o; }
            else
            {
                new Rune(c).EncodeToUtf16(chars.AsSpan(len));
                corig[len++] = o;
                corig[len++] = o;
            }
            if (punct) { if (WordPieceStops(chars, corig, wordStart, len, seq, word++, stopAt)) return true; wordStart = len; }
        }
        if (len > wordStart) WordPiece(chars, corig, wordStart, len, seq, word++);
        return false;
    }

    /// <summary>Word-pieces one word; true when the count has reached <paramref name="stopAt"/> (the early stop).</summary>
    bool WordPieceStops(char[] chars, int[] orig, int ws, int we, SequenceTokens seq, int word, int? stopAt)
    {
        WordPiece(chars, orig, ws, we, seq, word);
        return seq.Count >= stopAt;
    }

    /// <summary>Stable sort of each run of non-starters by combining class (the reordering step of NFD).</summary>
    static void CanonicalReorder(int[] cps, int[] orig, int n)
    {
        for (int i = 1; i < n; i++)
        {
            int c = cps[i];
            int cc = UnicodeTables.CombiningClass(c);
            if (cc == 0) continue;
            int o = orig[i], j = i;
            while (j > 0)
            {
                int pc = UnicodeTables.CombiningClass(cps[j - 1]);
                if (pc <= cc) break;   // pc == 0 (a starter) or already in order
                cps[j] = cps[j - 1]; orig[j] = orig[j - 1];
                j--;
            }
            cps[j] = c; orig[j] = o;
        }
    }

    /// <summary>Greedy longest-match-first WordPiece of chars[ws..we).</summary>
    void WordPiece(char[] chars, int[] orig, int ws, int we, SequenceTokens seq, int word)
    {
        int wordStart = orig[ws], wordEnd = orig[we - 1] + 1;
        int codePoints = we - ws;
        for (int i = ws + 1; i < we; i++) if (char.IsLowSurrogate(chars[i]) && char.IsHighSurrogate(chars[i - 1])) codePoints--;
        if (codePoints > MaxInputCharsPerWord) { seq.Add(UnkId, wordStart, wordEnd, word); return; }

        int mark = seq.Count;
        int start = ws;
        while (start < we)
        {
            int end = we, id = -1;
            while (start < end)
            {
                var piece = new ReadOnlySpan<char>(chars, start, end - start);
                if (start == ws ? pieces.TryGetValue(piece, out id) : continuations.TryGetValue(piece, out id)) break;
                id = -1;
                end -= end - start >= 2 && char.IsLowSurrogate(chars[end - 1]) && char.IsHighSurrogate(chars[end - 2]) ? 2 : 1;
            }
            if (id < 0)
            {
                seq.Truncate(mark);
                seq.Add(UnkId, wordStart, wordEnd, word);
                return;
            }
            seq.Add(id, orig[start], orig[end - 1] + 1, word);
            start = end;
        }
    }
}

/// <summary>The special-token strings of a tokenizer (tokenizer_config.json may rename them).</summary>
internal sealed record SpecialTokenNames(string Unk, string Cls, string Sep, string Pad, string? Mask)
{
    public static SpecialTokenNames Bert { get; } = new("[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]");
    public static SpecialTokenNames Roberta { get; } = new("<unk>", "<s>", "</s>", "<pad>", "<mask>");
}
