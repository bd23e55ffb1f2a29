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
    /// after the word that brings the count to this is not read.</param>
    internal SequenceTokens EncodeSequence(string text, int? stopAt = null)
    {
        var seq = new SequenceTokens();
        int word = 0;
        var words = new BertWordStream(lowerCase, stripAccents, chineseChars, MaxInputCharsPerWord, (chars, origins, start, end, tooLong) =>
        {
            if (tooLong) seq.Add(UnkId, start, end, word);
            else WordPiece(chars, origins, seq, word);
            word++;
            return seq.Count >= stopAt;
        });
        foreach (var seg in specials.Split(text))
        {
            if (seg.TokenId >= 0) { seq.AddSpecial(seg.TokenId, seg.CodePointStart, seg.CodePointEnd, word++, 0); continue; }
            for (int i = seg.Start, cp = seg.CodePointStart; i < seg.End && !words.Stopped; cp++)
            {
                words.Add(UnicodeTables.CodePointAt(text, i, out int width), cp);
                i += width;
            }
            words.End();
            if (words.Stopped) break;
        }
        return seq;
    }

    /// <summary>Greedy longest-match-first WordPiece of one word (normalised chars, the original code point of each).</summary>
    void WordPiece(ReadOnlySpan<char> chars, ReadOnlySpan<int> origins, SequenceTokens seq, int word)
    {
        int mark = seq.Count;
        int start = 0;
        while (start < chars.Length)
        {
            int end = chars.Length, id = -1;
            while (start < end)
            {
                var piece = chars[start..end];
                if (start == 0 ? pieces.TryGetValue(piece, out id) : continuations.TryGetValue(piece, out id)) break;
                id = -1;
                end -= end - start >= 2 && char.IsLowSurrogate(chars[end - 1]) && char.IsHighSurrogate(chars[end - 2]) ? 2 : 1;
            }
            if (id < 0)
            {
                seq.Truncate(mark);
                seq.Add(UnkId, origins[0], origins[^1] + 1, word);
                return;
            }
            seq.Add(id, origins[start], origins[end - 1] + 1, word);
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
