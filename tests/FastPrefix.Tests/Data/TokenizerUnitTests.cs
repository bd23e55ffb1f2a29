using System.Text;
using FastPrefix.Data.Tokenization;

namespace FastPrefix.Tests.Data;

/// <summary>Tokenizer behaviour on small vocabularies the tests write themselves.</summary>
public sealed class TokenizerUnitTests : IDisposable
{
    static readonly string[] WordPieceVocab =
    [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
        "un", "##aff", "##af", "##able", "a", "##a", "hello", "world", ",", "!", "$", "+", ".",
        "cafe", "café", "中", "b", "##b", "Hello", "the", "cat",
    ];

    readonly string dir = TestPaths.NewTempDir();

    public void Dispose()
    {
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
    }

    string Write(string name, string content)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllText(path, content, new UTF8Encoding(false));
        return path;
    }

    WordPieceTokenizer WordPiece(bool lowerCase = true, bool? stripAccents = null, bool chinese = true) =>
        WordPieceTokenizer.FromVocabFile(Write("vocab.txt", string.Join("\n", WordPieceVocab) + "\n"), lowerCase, stripAccents, chinese);

    static int Wp(string token) => Array.IndexOf(WordPieceVocab, token) is var i and >= 0 ? i : throw new ArgumentException(token);

    static int[] Content(TokenizedText t) => t.InputIds[1..^1];

    static (int, int)[] ContentOffsets(TokenizedText t) => t.Offsets[1..^1].Select(o => (o.Start, o.End)).ToArray();

    // ---------- WordPiece ----------

    [Fact]
    public void WordPiece_GreedyLongestMatchWithContinuations()
    {
        var t = WordPiece().Encode("unaffable");
        Assert.Equal(new[] { Wp("un"), Wp("##aff"), Wp("##able") }, Content(t));   // "##aff" wins over the shorter "##af"
        Assert.Equal(new[] { (0, 2), (2, 5), (5, 9) }, ContentOffsets(t));
        Assert.Equal(new int?[] { null, 0, 0, 0, null }, t.WordIds);
        Assert.Equal(new[] { "[CLS]", "un", "##aff", "##able", "[SEP]" }, WordPiece().TokenStrings(t.InputIds));
    }

    [Fact]
    public void WordPiece_WordThatCannotBeCoveredIsOneUnk()
    {
        var t = WordPiece().Encode("hello unaffx world");
        Assert.Equal(new[] { Wp("hello"), Wp("[UNK]"), Wp("world") }, Content(t));
        Assert.Equal(new[] { (0, 5), (6, 12), (13, 18) }, ContentOffsets(t));
    }

    [Fact]
    public void WordPiece_WordsOverOneHundredCharactersAreUnk()
    {
        var tok = WordPiece();
        var hundred = tok.Encode(new string('a', 100));
        Assert.Equal(100, Content(hundred).Length);
        Assert.Equal(new[] { Wp("a") }.Concat(Enumerable.Repeat(Wp("##a"), 99)).ToArray(), Content(hundred));
        var longer = tok.Encode(new string('a', 101) + " b");
        Assert.Equal(new[] { Wp("[UNK]"), Wp("b") }, Content(longer));
        Assert.Equal(new[] { (0, 101), (102, 103) }, ContentOffsets(longer));
    }

    [Fact]
    public void WordPiece_LowerCasingStripsAccentsUnlessTurnedOff()
    {
        Assert.Equal(new[] { Wp("cafe") }, Content(WordPiece().Encode("CAFÉ")));
        Assert.Equal(new[] { Wp("café") }, Content(WordPiece(stripAccents: false).Encode("CAFÉ")));
        Assert.Equal(new[] { Wp("café") }, Content(WordPiece(lowerCase: false).Encode("café")));
        Assert.Equal(new[] { Wp("Hello") }, Content(WordPiece(lowerCase: false).Encode("Hello")));
        // decomposed input: the combining accent is dropped with the other marks
        var t = WordPiece().Encode("cafe\u0301!");
        Assert.Equal(new[] { Wp("cafe"), Wp("!") }, Content(t));
        Assert.Equal(new[] { (0, 4), (5, 6) }, ContentOffsets(t));
    }

    [Fact]
    public void WordPiece_ChineseCharactersAreSplitOneByOne()
    {
        var t = WordPiece().Encode("a中b");
        Assert.Equal(new[] { Wp("a"), Wp("中"), Wp("b") }, Content(t));
        Assert.Equal(new[] { (0, 1), (1, 2), (2, 3) }, ContentOffsets(t));
        Assert.Equal(new int?[] { null, 0, 1, 2, null }, t.WordIds);
        Assert.Equal(new[] { Wp("[UNK]") }, Content(WordPiece(chinese: false).Encode("a中b")));
    }

    [Fact]
    public void WordPiece_ControlFormatAndZeroWidthCharactersAreRemoved()
    {
        var t = WordPiece().Encode("hel\u200Blo\u0000\tworld\u00AD\uFEFF!\u0007");
        Assert.Equal(new[] { Wp("hello"), Wp("world"), Wp("!") }, Content(t));
        Assert.Equal(new[] { (0, 6), (8, 13), (15, 16) }, ContentOffsets(t));
        Assert.Equal(new[] { Wp("[CLS]"), Wp("[SEP]") }, WordPiece().Encode("\u200B \u0001\r\n").InputIds);
    }

    [Fact]
    public void WordPiece_PunctuationAndAsciiSymbolsAreSeparateWords()
    {
        var t = WordPiece().Encode("hello,world!$a+b.");
        Assert.Equal(new[] { Wp("hello"), Wp(","), Wp("world"), Wp("!"), Wp("$"), Wp("a"), Wp("+"), Wp("b"), Wp(".") }, Content(t));
        Assert.Equal(new int?[] { null, 0, 1, 2, 3, 4, 5, 6, 7, 8, null }, t.WordIds);
    }

    [Fact]
    public void WordPiece_OffsetsCountCodePoints()
    {
        var t = WordPiece().Encode("\U0001F642 hello");   // the emoji is one character of the original text
        Assert.Equal(new[] { Wp("[UNK]"), Wp("hello") }, Content(t));
        Assert.Equal(new[] { (0, 1), (2, 7) }, ContentOffsets(t));
    }

    [Fact]
    public void WordPiece_SpecialTokensWrittenInTheTextAreMatchedExactly()
    {
        var t = WordPiece().Encode("a [MASK] [mask]");   // "[mask]" is ordinary text: "[", "mask", "]" (none in this vocabulary)
        Assert.Equal(new[] { Wp("a"), Wp("[MASK]"), Wp("[UNK]"), Wp("[UNK]"), Wp("[UNK]") }, Content(t));
        Assert.Equal((2, 8), t.Offsets[2]);
        Assert.Equal(new int?[] { null, 0, 1, 2, 3, 4, null }, t.WordIds);
    }

    [Fact]
    public void WordPiece_PairTemplateTypesAndSequenceIds()
    {
        var t = WordPiece().Encode("the cat", "hello world");
        Assert.Equal(new[] { Wp("[CLS]"), Wp("the"), Wp("cat"), Wp("[SEP]"), Wp("hello"), Wp("world"), Wp("[SEP]") }, t.InputIds);
        Assert.Equal(new[] { 0, 0, 0, 0, 1, 1, 1 }, t.TokenTypeIds);
        Assert.Equal(new int?[] { null, 0, 0, null, 1, 1, null }, t.SequenceIds);
        Assert.Equal(new int?[] { null, 0, 1, null, 0, 1, null }, t.WordIds);
        Assert.Equal(new[] { (0, 0), (0, 3), (4, 7), (0, 0), (0, 5), (6, 11), (0, 0) }, t.Offsets.Select(o => (o.Start, o.End)).ToArray());
        Assert.Equal(0, t.NumTruncated);
        Assert.Equal(2, WordPiece().SpecialTokensCount(false));
        Assert.Equal(3, WordPiece().SpecialTokensCount(true));
    }

    [Theory]
    [InlineData("a a", "a a a a a a", 9, 2, 4)]        // the shorter fits: only the longer is cut
    [InlineData("a a a a", "a a a a", 8, 2, 3)]        // both cut, a tie: the second gets the odd token
    [InlineData("a a a a a", "a a a a", 8, 3, 2)]      // both cut: the longer gets the odd token
    [InlineData("a a a a", "a a a a a", 8, 2, 3)]
    [InlineData("a a a", "a", 7, 3, 1)]                // fits: nothing cut
    [InlineData("a a", "a a", 3, 0, 0)]                // room for the special tokens only
    public void WordPiece_PairTruncationIsLongestFirst(string text, string pair, int maxLength, int keptFirst, int keptSecond)
    {
        var t = WordPiece().Encode(text, pair, maxLength);
        Assert.Equal(keptFirst, t.SequenceIds.Count(s => s == 0));
        Assert.Equal(keptSecond, t.SequenceIds.Count(s => s == 1));
        int before = text.Split(' ').Length + pair.Split(' ').Length;
        Assert.Equal(before - keptFirst - keptSecond, t.NumTruncated);
        Assert.True(t.Length <= maxLength);
    }

    [Fact]
    public void WordPiece_SingleTruncationKeepsTheStartAndCountsWhatWasDropped()
    {
        var t = WordPiece().Encode("hello world , hello world", maxLength: 4);
        Assert.Equal(new[] { Wp("[CLS]"), Wp("hello"), Wp("world"), Wp("[SEP]") }, t.InputIds);
        // the reference's early stop: after "hello world , hello" (4 tokens, max_length 4) the rest is never tokenized
        Assert.Equal(2, t.NumTruncated);
        Assert.Equal(0, WordPiece().Encode("hello", maxLength: 3).NumTruncated);
        Assert.Throws<ArgumentOutOfRangeException>(() => WordPiece().Encode("hello", maxLength: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => WordPiece().Encode("hello", "world", maxLength: 2));
    }

    [Fact]
    public void WordPiece_MalformedVocabularyNamesFileAndLine()
    {
        string path = Write("vocab.txt", "[PAD]\n[UNK]\n\n[CLS]\n[SEP]\n");
        var e = Assert.Throws<TokenizerException>(() => WordPieceTokenizer.FromVocabFile(path));
        Assert.Equal(path, e.FilePath);
        Assert.Equal(3, e.Line);
        Assert.Contains($"{path}:3", e.Message);

        string missing = Write("vocab.txt", "[PAD]\n[CLS]\n[SEP]\nhello\n");
        var e2 = Assert.Throws<TokenizerException>(() => WordPieceTokenizer.FromVocabFile(missing));
        Assert.Contains("[UNK]", e2.Message);
        Assert.Equal(missing, e2.FilePath);

        File.WriteAllBytes(Path.Combine(dir, "bad.txt"), [.. "[PAD]\n[UNK]\n"u8, 0xFF, 0xFE, (byte)'\n']);
        var e3 = Assert.Throws<TokenizerException>(() => WordPieceTokenizer.FromVocabFile(Path.Combine(dir, "bad.txt")));
        Assert.Equal(3, e3.Line);
    }

    // ---------- byte-level BPE ----------

    static readonly string[] BpeMerges =
    [
        "h e", "l l", "he ll", "hell o", "Ġ hello", "w o", "r l", "wo rl", "worl d", "Ġ world", "Ã ©",
    ];

    ByteLevelBpeTokenizer Bpe(bool addPrefixSpace = false, string[]? merges = null)
    {
        merges ??= BpeMerges;
        var tokens = new List<string> { "<s>", "<pad>", "</s>", "<unk>", "<mask>", "h", "e", "l", "o", "w", "r", "d", "Ġ", "Ã", "©" };
        foreach (var m in merges)
        {
            string merged = m.Replace(" ", "");
            if (!tokens.Contains(merged)) tokens.Add(merged);
        }
        var json = "{\n" + string.Join(",\n", tokens.Select((t, i) => $"  \"{t}\": {i}")) + "\n}";
        return ByteLevelBpeTokenizer.FromFiles(Write("vocab.json", json), Write("merges.txt", "#version: 0.2\n" + string.Join("\n", merges) + "\n"), addPrefixSpace);
    }

    [Fact]
    public void Bpe_MergesWordsAndTrimsTheLeadingSpaceFromOffsets()
    {
        var tok = Bpe();
        var t = tok.Encode("hello world");
        Assert.Equal(new[] { "<s>", "hello", "Ġworld", "</s>" }, tok.TokenStrings(t.InputIds));
        Assert.Equal(new[] { (0, 0), (0, 5), (6, 11), (0, 0) }, t.Offsets.Select(o => (o.Start, o.End)).ToArray());
        Assert.Null(t.TokenTypeIds);
        Assert.Equal(new int?[] { null, 0, 1, null }, t.WordIds);
        Assert.Equal("bpe", tok.Kind);
    }

    [Fact]
    public void Bpe_LowestRankMergesFirst()
    {
        var loFirst = Bpe(merges: ["l o", "l l"]);
        Assert.Equal(new[] { "l", "lo" }, loFirst.TokenStrings(Content(loFirst.Encode("llo"))));
        var llFirst = Bpe(merges: ["l l", "l o"]);
        Assert.Equal(new[] { "ll", "o" }, llFirst.TokenStrings(Content(llFirst.Encode("llo"))));
    }

    [Fact]
    public void Bpe_AddPrefixSpaceAndMultiByteCharacters()
    {
        var tok = Bpe(addPrefixSpace: true);
        var t = tok.Encode("hello é");
        Assert.Equal(new[] { "Ġhello", "Ġ", "Ã©" }, tok.TokenStrings(Content(t)));
        Assert.Equal(new[] { (0, 5), (6, 6), (6, 7) }, ContentOffsets(t));   // the added space keeps offset 0; "Ġ" alone trims to empty
        var plain = Bpe();
        Assert.Equal(new[] { "h", "Ã©" }, plain.TokenStrings(Content(plain.Encode("hé"))));
        Assert.Equal(new[] { (0, 1), (1, 2) }, ContentOffsets(plain.Encode("hé")));
    }

    [Fact]
    public void Bpe_PairTemplateAndMaskWrittenInTheText()
    {
        var tok = Bpe();
        var t = tok.Encode("hello <mask>", "world");
        Assert.Equal(new[] { "<s>", "hello", "<mask>", "</s>", "</s>", "world", "</s>" }, tok.TokenStrings(t.InputIds));
        Assert.Equal(new[] { (0, 0), (0, 5), (6, 12), (0, 0), (0, 0), (0, 5), (0, 0) }, t.Offsets.Select(o => (o.Start, o.End)).ToArray());
        Assert.Equal(new int?[] { null, 0, 0, null, null, 1, null }, t.SequenceIds);
        Assert.Equal(4, tok.SpecialTokensCount(true));
        Assert.Equal(2, tok.SpecialTokensCount(false));
        var cut = tok.Encode("hello world", "hello world", 6);
        Assert.Equal(new[] { "<s>", "hello", "</s>", "</s>", "hello", "</s>" }, tok.TokenStrings(cut.InputIds));
        Assert.Equal(2, cut.NumTruncated);
    }

    [Fact]
    public void Bpe_EncodingIsStableAcrossThreads()
    {
        var tok = Bpe();
        var texts = Enumerable.Range(0, 500).Select(i => string.Join(" ", Enumerable.Repeat(i % 2 == 0 ? "hello" : "world", i % 7 + 1)) + (i % 3 == 0 ? " é" : "")).ToArray();
        var expected = texts.Select(s => tok.Encode(s).InputIds).ToArray();
        var actual = new int[texts.Length][];
        Parallel.For(0, texts.Length, i => actual[i] = tok.Encode(texts[i]).InputIds);
        for (int i = 0; i < texts.Length; i++) Assert.Equal(expected[i], actual[i]);
    }

    [Fact]
    public void Bpe_MalformedMergesNameFileAndLine()
    {
        string vocab = Write("vocab.json", "{\"<s>\": 0, \"<pad>\": 1, \"</s>\": 2, \"<unk>\": 3, \"h\": 4, \"e\": 5, \"he\": 6}");
        foreach (var (merges, line, words) in new[]
        {
            ("#version: 0.2\nh e\nh e x\n", 3, "h e x"),
            ("h e\nh q\n", 2, "\"q\""),
            ("#version: 0.2\ne h\n", 2, "\"eh\""),
            ("h e\n\nh e\n", 2, "empty"),
        })
        {
            string path = Write("merges.txt", merges);
            var e = Assert.Throws<TokenizerException>(() => ByteLevelBpeTokenizer.FromFiles(vocab, path));
            Assert.Equal(path, e.FilePath);
            Assert.Equal(line, e.Line);
            Assert.Contains(words, e.Message);
        }
    }

    [Fact]
    public void Bpe_MalformedVocabularyNamesFileAndLine()
    {
        string merges = Write("merges.txt", "#version: 0.2\n");
        string badJson = Write("vocab.json", "{\n  \"<s>\": 0,\n  \"<pad>\": 1,,\n  \"</s>\": 2\n}");
        var e = Assert.Throws<TokenizerException>(() => ByteLevelBpeTokenizer.FromFiles(badJson, merges));
        Assert.Equal(badJson, e.FilePath);
        Assert.Equal(3, e.Line);

        string badId = Write("vocab.json", "{\n  \"<s>\": 0,\n  \"<pad>\": \"one\"\n}");
        var e2 = Assert.Throws<TokenizerException>(() => ByteLevelBpeTokenizer.FromFiles(badId, merges));
        Assert.Equal(3, e2.Line);
        Assert.Contains("<pad>", e2.Message);

        string noUnk = Write("vocab.json", "{\"<s>\": 0, \"<pad>\": 1, \"</s>\": 2}");
        Assert.Contains("<unk>", Assert.Throws<TokenizerException>(() => ByteLevelBpeTokenizer.FromFiles(noUnk, merges)).Message);
    }

    // ---------- factory ----------

    [Fact]
    public void Factory_FolderWithoutTokenizerFilesNamesFolderAndFiles()
    {
        var e = Assert.Throws<TokenizerException>(() => TokenizerFactory.FromFolder(dir));
        Assert.Equal(dir, e.FilePath);
        Assert.Contains("vocab.txt", e.Message);
        Assert.Contains("vocab.json", e.Message);
        Assert.Contains("merges.txt", e.Message);

        Write("vocab.json", "{\"<s>\": 0}");
        var e2 = Assert.Throws<TokenizerException>(() => TokenizerFactory.FromFolder(dir));
        Assert.Contains("merges.txt", e2.Message);
        Assert.Contains(dir, e2.Message);
    }

    [Fact]
    public void Factory_ReadsTokenizerConfig()
    {
        Write("vocab.txt", string.Join("\n", WordPieceVocab) + "\n");
        Assert.Equal(new[] { Wp("hello") }, Content(TokenizerFactory.FromFolder(dir).Encode("Hello")));   // uncased by default
        Write("tokenizer_config.json", "{\"do_lower_case\": false, \"tokenizer_class\": \"BertTokenizer\"}");
        var cased = TokenizerFactory.FromFolder(dir);
        Assert.Equal("wordpiece", cased.Kind);
        Assert.Equal(new[] { Wp("Hello") }, Content(cased.Encode("Hello")));
        Assert.Equal((Wp("[PAD]"), Wp("[CLS]"), Wp("[SEP]"), Wp("[UNK]"), WordPieceVocab.Length), (cased.PadId, cased.ClsId, cased.SepId, cased.UnkId, cased.VocabSize));

        string config = Write("tokenizer_config.json", "{\n  \"do_lower_case\": false,\n  oops\n}");
        var e = Assert.Throws<TokenizerException>(() => TokenizerFactory.FromFolder(dir));
        Assert.Equal(config, e.FilePath);
        Assert.Equal(3, e.Line);
    }

    [Fact]
    public void Factory_ByteLevelFolderHonoursAddPrefixSpace()
    {
        Bpe();   // writes vocab.json and merges.txt into the folder
        Assert.Equal("hello", TokenizerFactory.FromFolder(dir).TokenStrings(Content(TokenizerFactory.FromFolder(dir).Encode("hello")))[0]);
        Write("tokenizer_config.json", "{\"add_prefix_space\": true, \"tokenizer_class\": \"RobertaTokenizer\"}");
        var tok = TokenizerFactory.FromFolder(dir);
        Assert.Equal(new[] { "Ġhello" }, tok.TokenStrings(Content(tok.Encode("hello"))));
    }

    // ---------- character tables ----------

    [Fact]
    public void UnicodeTables_AsciiFastPathsAgreeWithTheTables()
    {
        static bool In(ReadOnlySpan<int> ranges, int cp)
        {
            for (int i = 0; i < ranges.Length; i += 2) if (cp >= ranges[i] && cp <= ranges[i + 1]) return true;
            return false;
        }
        for (int cp = 0; cp < 0x80; cp++)
        {
            Assert.Equal(In(UnicodeTables.BertRemovedRanges, cp), UnicodeTables.IsBertRemoved(cp));
            Assert.Equal(In(UnicodeTables.BertPunctuationRanges, cp), UnicodeTables.IsBertPunctuation(cp));
            Assert.Equal(In(UnicodeTables.LetterRanges, cp), UnicodeTables.IsLetter(cp));
            Assert.Equal(In(UnicodeTables.NumberRanges, cp), UnicodeTables.IsNumber(cp));
        }
        Assert.Equal('i', UnicodeTables.ToLowerSingle('I'));
        Assert.Equal(0x3C3, UnicodeTables.ToLowerSingle(0x3A3));       // Σ → σ (no final-sigma rule)
        Span<int> d = stackalloc int[4];
        Assert.Equal(3, UnicodeTables.Decompose(0xD55C, d));           // 한 → ᄒ ᅡ ᆫ
        Assert.Equal(new[] { 0x1112, 0x1161, 0x11AB }, d[..3].ToArray());
        Assert.Equal(2, UnicodeTables.Decompose(0xE9, d));             // é → e + U+0301
        Assert.Equal(230, UnicodeTables.CombiningClass(0x301));
    }
}
