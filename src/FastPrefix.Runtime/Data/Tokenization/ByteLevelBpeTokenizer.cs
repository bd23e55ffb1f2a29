using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using FastPrefix.IO;

namespace FastPrefix.Data.Tokenization;

/// <summary>
/// RoBERTa's (GPT-2's) byte-level BPE tokenizer, as Hugging Face <c>transformers</c> runs it: the GPT-2
/// pre-tokenisation regex, UTF-8 bytes mapped to printable characters, merges applied by rank, and the
/// RobertaProcessing template with trim_offsets. Offsets are code points of the original text.
/// </summary>
public sealed class ByteLevelBpeTokenizer : ITextTokenizer
{
    const int CacheCapacity = 10_000;
    const int MaxCachedWordLength = 256;

    /// <summary>GPT-2's byte → printable character map.</summary>
    static readonly char[] ByteToChar = BuildByteMap();

    readonly Dictionary<string, int> vocab;
    readonly string?[] idToToken;
    readonly BpeMerges merges;
    readonly int[] byteIds = new int[256];
    readonly byte[] leadingSpaces, trailingSpaces;
    readonly bool addPrefixSpace, trimOffsets;
    readonly AddedTokenMatcher specials;
    readonly ConcurrentDictionary<string, int[]> cache = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> cacheLookup;
    int cacheCount;

    public string Kind => "bpe";
    public int PadId { get; }
    public int ClsId { get; }
    public int SepId { get; }
    public int UnkId { get; }
    public int? MaskId { get; }
    public int VocabSize => idToToken.Length;

    /// <summary>Whether a space is put before a text that does not start with one.</summary>
    public bool AddPrefixSpace => addPrefixSpace;

    /// <summary>Number of merge rules.</summary>
    public int MergeCount => merges.Count;

    /// <summary>The merge rules (for tests).</summary>
    internal BpeMerges Merges => merges;

    /// <summary>The id of a byte's character, or -1 when the vocabulary lacks it (for tests).</summary>
    internal int ByteId(byte b) => byteIds[b];

    ByteLevelBpeTokenizer(Dictionary<string, int> vocab, BpeMerges merges, bool addPrefixSpace, bool trimOffsets, SpecialTokenNames names, string vocabPath)
    {
        this.vocab = vocab;
        this.merges = merges;
        this.addPrefixSpace = addPrefixSpace;
        this.trimOffsets = trimOffsets;
        cacheLookup = cache.GetAlternateLookup<ReadOnlySpan<char>>();

        int size = 0;
        foreach (int id in vocab.Values) size = Math.Max(size, id + 1);
        idToToken = new string?[size];
        leadingSpaces = new byte[size];
        trailingSpaces = new byte[size];
        foreach (var (token, id) in vocab)
        {
            idToToken[id] = token;
            int l = 0, t = 0;
            while (l < token.Length && IsSpaceChar(token[l])) l++;
            while (t < token.Length && IsSpaceChar(token[token.Length - 1 - t])) t++;
            leadingSpaces[id] = (byte)Math.Min(l, 255);
            trailingSpaces[id] = (byte)Math.Min(t, 255);
        }
        for (int b = 0; b < 256; b++) byteIds[b] = vocab.TryGetValue(ByteToChar[b].ToString(), out int id) ? id : -1;

        int Require(string token, string role) => vocab.TryGetValue(token, out int id) ? id
            : throw new TokenizerException($"the {role} token \"{token}\" is not in the vocabulary", vocabPath);
        ClsId = Require(names.Cls, "begin-of-sequence");
        SepId = Require(names.Sep, "end-of-sequence");
        PadId = Require(names.Pad, "padding");
        UnkId = Require(names.Unk, "unknown");
        MaskId = names.Mask is not null && vocab.TryGetValue(names.Mask, out int m) ? m : null;

        var added = new List<(string, int, bool)>();
        foreach (var t in new[] { names.Cls, names.Pad, names.Sep, names.Unk })
            if (vocab.TryGetValue(t, out int id)) added.Add((t, id, false));
        if (MaskId is int maskId) added.Add((names.Mask!, maskId, true));   // RoBERTa's mask token strips the space before it
        specials = new AddedTokenMatcher(added);
    }

    static bool IsSpaceChar(char c) => c == '\u0120' || UnicodeTables.IsWhiteSpace(c);

    /// <summary>Loads a GPT-2 style vocabulary (JSON object token → id) and merges file ("a b" per line, by rank).</summary>
    public static ByteLevelBpeTokenizer FromFiles(string vocabJson, string mergesTxt, bool addPrefixSpace = false) =>
        FromFiles(vocabJson, mergesTxt, addPrefixSpace, trimOffsets: true, SpecialTokenNames.Roberta);

    internal static ByteLevelBpeTokenizer FromFiles(string vocabJson, string mergesTxt, bool addPrefixSpace, bool trimOffsets, SpecialTokenNames names)
    {
        var vocab = ReadVocabJson(vocabJson);
        var merges = ReadMerges(mergesTxt, vocab);
        return new ByteLevelBpeTokenizer(vocab, merges, addPrefixSpace, trimOffsets, names, vocabJson);
    }

    static byte[] ReadBytes(string path, string what)
    {
        try { return File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TokenizerException($"cannot read the {what}: " + e.Message, path, null, e);
        }
    }

    static Dictionary<string, int> ReadVocabJson(string path)
    {
        var bytes = ReadBytes(path, "vocabulary");
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        var ids = new Dictionary<int, string>();
        int LineAt(long index)
        {
            int line = 1;
            for (long i = 0; i < index && i < bytes.Length; i++) if (bytes[i] == '\n') line++;
            return line;
        }
        StrictJson.Validate(bytes, p => new TokenizerException(p.WithPath, path, p.Line));
        try
        {
            var reader = new Utf8JsonReader(bytes);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                throw new TokenizerException("expected a JSON object that maps tokens to ids", path, LineAt(reader.TokenStartIndex));
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                string token = reader.GetString()!;
                long at = reader.TokenStartIndex;
                reader.Read();
                if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out int id) || id < 0)
                    throw new TokenizerException($"the id of \"{token}\" must be a non-negative integer", path, LineAt(reader.TokenStartIndex));
                if (!vocab.TryAdd(token, id))
                    throw new TokenizerException($"\"{token}\" appears twice", path, LineAt(at));
                if (!ids.TryAdd(id, token))
                    throw new TokenizerException($"\"{token}\" has id {id}, which \"{ids[id]}\" already has", path, LineAt(at));
            }
            if (reader.TokenType != JsonTokenType.EndObject)
                throw new TokenizerException("expected a JSON object that maps tokens to ids", path, LineAt(reader.TokenStartIndex));
            if (reader.Read())
                throw new TokenizerException("unexpected content after the JSON object", path, LineAt(reader.TokenStartIndex));
        }
        catch (JsonException e)
        {
            throw new TokenizerException("invalid JSON: " + e.Message, path, (int?)(e.LineNumber + 1), e);
        }
        if (vocab.Count == 0) throw new TokenizerException("the vocabulary is empty", path);
        return vocab;
    }

    static BpeMerges ReadMerges(string path, Dictionary<string, int> vocab)
    {
        var bytes = ReadBytes(path, "merges file");
        var utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        string text;
        try { text = utf8.GetString(bytes); }
        catch (DecoderFallbackException e) { throw new TokenizerException("the file is not valid UTF-8", path, null, e); }
        if (text.Length > 0 && text[0] == '\uFEFF') text = text[1..];

        var merges = new BpeMerges();
        int rank = 0, line = 0, pos = 0;
        while (pos < text.Length)
        {
            int nl = text.IndexOf('\n', pos);
            int end = nl < 0 ? text.Length : nl;
            int next = nl < 0 ? text.Length : nl + 1;
            var s = text.AsSpan(pos, end - pos);
            if (s.Length > 0 && s[^1] == '\r') s = s[..^1];
            pos = next;
            line++;
            if (line == 1 && s.StartsWith("#version")) continue;
            int sp = s.IndexOf(' ');
            if (sp <= 0 || sp == s.Length - 1 || s[(sp + 1)..].Contains(' '))
                throw new TokenizerException(s.Length == 0 ? "empty line: every line must hold one merge, \"left right\""
                    : $"expected one merge, \"left right\", got \"{s}\"", path, line);
            string left = s[..sp].ToString(), right = s[(sp + 1)..].ToString();
            if (!vocab.TryGetValue(left, out int a)) throw new TokenizerException($"\"{left}\" is not in the vocabulary", path, line);
            if (!vocab.TryGetValue(right, out int b)) throw new TokenizerException($"\"{right}\" is not in the vocabulary", path, line);
            if (!vocab.TryGetValue(left + right, out int merged)) throw new TokenizerException($"the merged token \"{left + right}\" is not in the vocabulary", path, line);
            merges.Set(a, b, rank++, merged);
        }
        return merges;
    }

    static char[] BuildByteMap()
    {
        var map = new char[256];
        int extra = 0;
        for (int b = 0; b < 256; b++)
            map[b] = b is (>= 0x21 and <= 0x7E) or (>= 0xA1 and <= 0xAC) or (>= 0xAE and <= 0xFF) ? (char)b : (char)(256 + extra++);
        return map;
    }

    public int SpecialTokensCount(bool pair) => pair ? 4 : 2;

    public IReadOnlyList<string> TokenStrings(IReadOnlyList<int> ids)
    {
        var result = new string[ids.Count];
        for (int i = 0; i < result.Length; i++)
        {
            int id = ids[i];
            result[i] = (uint)id < (uint)idToToken.Length && idToToken[id] is { } s ? s
                : throw new ArgumentOutOfRangeException(nameof(ids), id, "id outside the vocabulary");
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
        if (trimOffsets)
        {
            a.TrimOffsets(addPrefixSpace);
            b?.TrimOffsets(addPrefixSpace);
        }
        return EncodingAssembler.Build(a, b, ClsId, SepId, doubleSeparator: true, typeIds: false, dropped);
    }

    /// <param name="stopAt">With truncation, the reference's early stop: once a word the model tokenized brings the count to
    /// this, the rest of the text is not read (it could not be kept), so work and memory follow the tokens kept.</param>
    internal SequenceTokens EncodeSequence(string text, int? stopAt = null)
    {
        var seq = new SequenceTokens();
        int word = 0;
        foreach (var seg in specials.Split(text))
        {
            if (seg.TokenId >= 0) seq.AddSpecial(seg.TokenId, seg.CodePointStart, seg.CodePointEnd, word++, seg.LeadingWhitespace);
            else if (EncodeText(text.AsSpan(seg.Start, seg.End - seg.Start), seg.CodePointStart, seq, ref word, stopAt)) break;
        }
        return seq;
    }

    /// <summary>
    /// Tokenizes a piece of plain text that starts at code point <paramref name="codePoint"/> of the original, one
    /// pre-token at a time (memory follows the longest pre-token, not the text). True when it stopped early (see
    /// <see cref="EncodeSequence"/>).
    /// </summary>
    bool EncodeText(ReadOnlySpan<char> text, int codePoint, SequenceTokens seq, ref int word, int? stopAt)
    {
        bool prefix = addPrefixSpace && text[0] != ' ';   // the added space stands for the first character
        for (int p = 0; p < text.Length;)
        {
            int q = NextPreToken(text, p, prefix);
            codePoint += EncodeWord(text[p..q], codePoint, prefix, seq, word++);
            prefix = false;
            p = q;
            if (seq.Count >= stopAt) return true;
        }
        return false;
    }

    enum CharClass : byte { Letter, Number, Space, Other }

    static CharClass Classify(int c) =>
        UnicodeTables.IsLetter(c) ? CharClass.Letter
        : UnicodeTables.IsNumber(c) ? CharClass.Number
        : UnicodeTables.IsWhiteSpace(c) ? CharClass.Space
        : CharClass.Other;

    /// <summary>
    /// End (UTF-16) of the pre-token that starts at <paramref name="i"/>, per the GPT-2 pattern
    /// <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>, on code points. With
    /// <paramref name="addedSpace"/>, the pattern sees a space before <paramref name="i"/> (add_prefix_space) that
    /// belongs to this pre-token. Whitespace characters are all in the BMP: one UTF-16 unit each.
    /// </summary>
    internal static int NextPreToken(ReadOnlySpan<char> text, int i, bool addedSpace)
    {
        int n = text.Length;
        if (addedSpace)
        {
            var first = Classify(UnicodeTables.CodePointAt(text, i, out _));
            return first != CharClass.Space ? Run(text, i, first) : WhitespaceEnd(text, i, i - 1);
        }
        char c = text[i];
        if (c == '\'' && i + 1 < n)
        {
            char c1 = text[i + 1];
            if (c1 is 's' or 't' or 'm' or 'd') return i + 2;
            if (i + 2 < n)
            {
                char c2 = text[i + 2];
                if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return i + 3;
            }
        }
        if (c == ' ' && i + 1 < n)
        {
            var next = Classify(UnicodeTables.CodePointAt(text, i + 1, out _));
            if (next != CharClass.Space) return Run(text, i + 1, next);
        }
        var cls = Classify(UnicodeTables.CodePointAt(text, i, out _));
        return cls != CharClass.Space ? Run(text, i, cls) : WhitespaceEnd(text, i, i);
    }

    /// <summary>The whitespace run from <paramref name="i"/> (that began at <paramref name="runStart"/>): <c>\s+(?!\S)|\s+</c>.</summary>
    static int WhitespaceEnd(ReadOnlySpan<char> text, int i, int runStart)
    {
        int j = i + 1;
        while (j < text.Length && UnicodeTables.IsWhiteSpace(text[j])) j++;
        if (j == text.Length) return j;              // \s+(?!\S) up to the end
        return j - 1 > runStart ? j - 1 : j;         // leave the last space to the word after it; else \s+
    }

    static int Run(ReadOnlySpan<char> text, int j, CharClass cls)
    {
        while (j < text.Length && Classify(UnicodeTables.CodePointAt(text, j, out int width)) == cls) j += width;
        return j;
    }

    /// <summary>
    /// BPE of one pre-token (with the added space before it when <paramref name="addedSpace"/>) whose first character is
    /// code point <paramref name="codePoint"/> of the original; returns how many code points the pre-token has.
    /// </summary>
    int EncodeWord(ReadOnlySpan<char> text, int codePoint, bool addedSpace, SequenceTokens seq, int word)
    {
        int max = Encoding.UTF8.GetByteCount(text) + 1;   // (a lone surrogate counts as U+FFFD's 3 bytes here too)
        Span<char> chars = max <= 256 ? stackalloc char[256] : new char[max];
        Span<int> charOrig = max <= 256 ? stackalloc int[256] : new int[max];
        Span<byte> utf8 = stackalloc byte[4];
        int len = 0, cp = codePoint;
        if (addedSpace) { chars[len] = ByteToChar[' ']; charOrig[len++] = codePoint; }
        for (int i = 0; i < text.Length; cp++)
        {
            int nb = new Rune(UnicodeTables.CodePointAt(text, i, out int width)).EncodeToUtf8(utf8);
            for (int b = 0; b < nb; b++) { chars[len] = ByteToChar[utf8[b]]; charOrig[len++] = cp; }
            i += width;
        }
        var tokens = Bpe(chars[..len]);
        int pos = 0;
        for (int t = 0; t < tokens.Length; t += 2)
        {
            int id = tokens[t], l = tokens[t + 1];
            seq.Add(id, charOrig[pos], charOrig[pos + l - 1] + 1, word, leadingSpaces[id], trailingSpaces[id]);
            pos += l;
        }
        return cp - codePoint;
    }

    /// <summary>BPE of one pre-token: (id, length in characters) pairs, cached per word.</summary>
    int[] Bpe(ReadOnlySpan<char> word)
    {
        bool cacheable = word.Length <= MaxCachedWordLength;
        if (cacheable && cacheLookup.TryGetValue(word, out var hit)) return hit;
        var result = Merge(word);
        if (cacheable)
        {
            if (Interlocked.Increment(ref cacheCount) > CacheCapacity)
            {
                cache.Clear();
                Interlocked.Exchange(ref cacheCount, 0);
            }
            cacheLookup.TryAdd(word, result);
        }
        return result;
    }

    /// <summary>
    /// Applies the merges to the word's characters (see <see cref="BpeMerges.Apply"/>). Characters with no vocabulary
    /// entry are dropped (no unk token).
    /// </summary>
    int[] Merge(ReadOnlySpan<char> word)
    {
        int n = word.Length;
        Span<int> id = n <= 256 ? stackalloc int[n] : new int[n];
        Span<int> len = n <= 256 ? stackalloc int[n] : new int[n];
        int m = 0;
        foreach (char c in word)
        {
            int v = c < 0x144 ? byteIds[CharToByte(c)] : -1;
            if (v < 0) continue;
            id[m] = v; len[m++] = 1;
        }
        int count = merges.Apply(id[..m], len[..m]);
        var result = new int[2 * count];
        for (int i = 0; i < count; i++) { result[2 * i] = id[i]; result[2 * i + 1] = len[i]; }
        return result;
    }

    static readonly byte[] CharToByteMap = BuildReverseMap();

    static byte[] BuildReverseMap()
    {
        var map = new byte[0x144];
        for (int b = 0; b < 256; b++) map[ByteToChar[b]] = (byte)b;
        return map;
    }

    static int CharToByte(char c) => CharToByteMap[c];
}
