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
    readonly Dictionary<long, (int Rank, int NewId)> merges;
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

    ByteLevelBpeTokenizer(Dictionary<string, int> vocab, Dictionary<long, (int, int)> merges, bool addPrefixSpace, bool trimOffsets, SpecialTokenNames names, string vocabPath)
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

    static Dictionary<long, (int, int)> ReadMerges(string path, Dictionary<string, int> vocab)
    {
        var bytes = ReadBytes(path, "merges file");
        var utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        string text;
        try { text = utf8.GetString(bytes); }
        catch (DecoderFallbackException e) { throw new TokenizerException("the file is not valid UTF-8", path, null, e); }
        if (text.Length > 0 && text[0] == '\uFEFF') text = text[1..];

        var merges = new Dictionary<long, (int, int)>();
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
            merges[Key(a, b)] = (rank++, merged);   // a repeated pair takes its last rank, as in Hugging Face
        }
        return merges;
    }

    static long Key(int a, int b) => ((long)a << 32) | (uint)b;

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
    /// this, the rest of the text is not tokenized (it could not be kept), so work and memory follow the tokens kept.</param>
    internal SequenceTokens EncodeSequence(string text, int? stopAt = null)
    {
        var seq = new SequenceTokens();
        var cps = UnicodeTables.ToCodePoints(text, out int n);
        int word = 0;
        foreach (var seg in specials.Split(cps, n))
        {
            if (seg.TokenId >= 0) seq.AddSpecial(seg.TokenId, seg.Start, seg.End, word++, seg.LeadingWhitespace);
            else if (seg.End > seg.Start && EncodeText(cps, seg.Start, seg.End, seq, ref word, stopAt)) { seq.StoppedEarly = true; break; }
        }
        return seq;
    }

    /// <summary>Returns true when it stopped early (see <see cref="EncodeSequence"/>).</summary>
    bool EncodeText(int[] cps, int start, int end, SequenceTokens seq, ref int word, int? stopAt)
    {
        bool prefix = addPrefixSpace && cps[start] != ' ';
        int n = end - start + (prefix ? 1 : 0);
        var cp = new int[n];
        var orig = new int[n];
        int k = 0;
        if (prefix) { cp[0] = ' '; orig[0] = start; k = 1; }   // the added space stands for the first character
        for (int i = start; i < end; i++, k++) { cp[k] = cps[i]; orig[k] = i; }
        for (int p = 0; p < n;)
        {
            int q = NextPreToken(cp, p, n);
            EncodeWord(cp, orig, p, q, seq, word++);
            p = q;
            if (seq.Count >= stopAt && (p < n || end < cps.Length)) return true;
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
    /// End of the pre-token that starts at <paramref name="i"/>, per the GPT-2 pattern
    /// <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>, on code points.
    /// </summary>
    internal static int NextPreToken(int[] cp, int i, int n)
    {
        int c = cp[i];
        if (c == '\'' && i + 1 < n)
        {
            int c1 = cp[i + 1];
            if (c1 is 's' or 't' or 'm' or 'd') return i + 2;
            if (i + 2 < n)
            {
                int c2 = cp[i + 2];
                if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return i + 3;
            }
        }
        if (c == ' ' && i + 1 < n)
        {
            var next = Classify(cp[i + 1]);
            if (next != CharClass.Space) return Run(cp, i + 1, n, next);
        }
        var cls = Classify(c);
        if (cls != CharClass.Space) return Run(cp, i, n, cls);
        int j = i + 1;
        while (j < n && UnicodeTables.IsWhiteSpace(cp[j])) j++;
        if (j == n) return n;                 // \s+(?!\S) up to the end
        return j - 1 > i ? j - 1 : j;         // leave the last space to the word after it; else \s+
    }

    static int Run(int[] cp, int j, int n, CharClass cls)
    {
        while (j < n && Classify(cp[j]) == cls) j++;
        return j;
    }

    void EncodeWord(int[] cp, int[] orig, int from, int to, SequenceTokens seq, int word)
    {
        int max = (to - from) * 4;
        Span<char> chars = max <= 256 ? stackalloc char[256] : new char[max];
        Span<int> charOrig = max <= 256 ? stackalloc int[256] : new int[max];
        Span<byte> utf8 = stackalloc byte[4];
        int len = 0;
        for (int i = from; i < to; i++)
        {
            int nb = new Rune(cp[i]).EncodeToUtf8(utf8);
            for (int b = 0; b < nb; b++) { chars[len] = ByteToChar[utf8[b]]; charOrig[len++] = orig[i]; }
        }
        var tokens = Bpe(chars[..len]);
        int pos = 0;
        for (int t = 0; t < tokens.Length; t += 2)
        {
            int id = tokens[t], l = tokens[t + 1];
            seq.Add(id, charOrig[pos], charOrig[pos + l - 1] + 1, word, leadingSpaces[id], trailingSpaces[id]);
            pos += l;
        }
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
    /// Applies the merges to the word's characters, always the lowest-ranked adjacent pair first (leftmost on
    /// a tie), as Hugging Face's BPE does. Characters with no vocabulary entry are dropped (no unk token).
    /// </summary>
    int[] Merge(ReadOnlySpan<char> word)
    {
        int n = word.Length;
        var id = new int[n];
        var len = new int[n];
        int m = 0;
        for (int k = 0; k < n; k++)
        {
            char c = word[k];
            int v = c < 0x144 ? byteIds[CharToByte(c)] : -1;
            if (v < 0) continue;
            id[m] = v; len[m++] = 1;
        }
        if (m > 1)
        {
            var prev = new int[m];
            var next = new int[m];
            for (int i = 0; i < m; i++) { prev[i] = i - 1; next[i] = i + 1 < m ? i + 1 : -1; }
            var queue = new PriorityQueue<int, long>(m);
            for (int i = 0; i + 1 < m; i++)
                if (merges.TryGetValue(Key(id[i], id[i + 1]), out var mg)) queue.Enqueue(i, ((long)mg.Rank << 32) | (uint)i);
            while (queue.TryDequeue(out int pos, out long priority))
            {
                int nx = next[pos];
                if (len[pos] == 0 || nx < 0) continue;
                if (!merges.TryGetValue(Key(id[pos], id[nx]), out var mg) || mg.Rank != (int)(priority >> 32)) continue;
                id[pos] = mg.NewId;
                len[pos] += len[nx];
                len[nx] = 0;
                int after = next[nx];
                next[pos] = after;
                if (after >= 0) prev[after] = pos;
                int before = prev[pos];
                if (before >= 0 && merges.TryGetValue(Key(id[before], id[pos]), out var left))
                    queue.Enqueue(before, ((long)left.Rank << 32) | (uint)before);
                if (after >= 0 && merges.TryGetValue(Key(id[pos], id[after]), out var right))
                    queue.Enqueue(pos, ((long)right.Rank << 32) | (uint)pos);
            }
        }
        int count = 0;
        for (int i = 0; i < m; i++) if (len[i] > 0) count++;
        var result = new int[2 * count];
        for (int i = 0, r = 0; i < m; i++)
            if (len[i] > 0) { result[r++] = id[i]; result[r++] = len[i]; }
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
