using System.Diagnostics;
using System.Reflection;
using FastPrefix.Data.Tokenization;

namespace FastPrefix.Tests.Hardening;

/// <summary>
/// Hostile input costs the tokenizers work and memory in proportion to what they give back. With truncation, tokenizing
/// stops after the word that reaches max_length (the reference's early stop) and the text is read as it goes, so a long
/// input allocates no more than a short one. One long pre-token is merged in O(n log n) with a merge table whose keys
/// hash apart (1M '!' took over 2 s of processor time when every pair of equal ids shared one hash bucket).
/// </summary>
public class HostileTokenizerInputTests
{
    static string Prose(int length)
    {
        string[] words = ["the", "model", "is", "frozen", "and", "only", "a", "prefix", "trains,", "quickly.", "naïve", "123", "<mask>", "[MASK]"];
        var sb = new System.Text.StringBuilder(length + 16);
        var rng = new Random(1);
        while (sb.Length < length) sb.Append(words[rng.Next(words.Length)]).Append(' ');
        return sb.ToString(0, length);
    }

    static ByteLevelBpeTokenizer Roberta()
    {
        string dir = TestPaths.Fixture("tokenizer-roberta-base");
        return ByteLevelBpeTokenizer.FromFiles(Path.Combine(dir, "vocab.json"), Path.Combine(dir, "merges.txt"));
    }

    static WordPieceTokenizer Bert() => WordPieceTokenizer.FromVocabFile(Path.Combine(TestPaths.Fixture("tokenizer-bert-base-uncased"), "vocab.txt"));

    [Fact]
    public void A_run_of_a_million_bangs_is_one_pre_token_merged_in_well_under_a_second_of_processor_time()
    {
        if (typeof(ByteLevelBpeTokenizer).Assembly.GetCustomAttribute<DebuggableAttribute>()?.IsJITOptimizerDisabled == true)
            Assert.Skip("the time bound is for an optimised build: run the tests with -c Release");
        var tok = Roberta();
        tok.Encode(new string('!', 100_000), null, 128);   // compiled and tiered up before the clock starts
        string text = new string('!', 1_000_000);
        TokenizedText enc = null!;
        var busy = ThreadCpuTime.Of(() => enc = tok.Encode(text, null, 128));
        // About 0.3-0.5 s on the 2-core development VM; the old merge table took 2.2-2.4 s there.
        Assert.True(busy < TimeSpan.FromSeconds(1.2), $"1M '!' took {busy.TotalSeconds:F2} s of processor time");
        Assert.Equal(128, enc.Length);
        string eight = new('!', 8);
        Assert.All(tok.TokenStrings(enc.InputIds[1..^1]), s => Assert.Equal(eight, s));
        Assert.Equal((0, 8), enc.Offsets[1]);
        Assert.Equal((1000, 1008), enc.Offsets[126]);
    }

    [Fact]
    public void Truncated_encoding_of_a_long_text_allocates_no_more_than_for_a_short_one()
    {
        var bpe = Roberta();
        var wordPiece = Bert();
        string text = Prose(2_000_000);
        foreach (ITextTokenizer tok in new ITextTokenizer[] { bpe, wordPiece })
        {
            var expected = tok.Encode(text[..4000], null, 128);
            long allocated = AllocatedBy(() => tok.Encode(text, null, 128), out var enc);
            Assert.Equal(expected.InputIds, enc.InputIds);
            Assert.Equal(expected.Offsets, enc.Offsets);
            Assert.True(enc.NumTruncated > 0);
            // The result, the 128 kept tokens' buffers and the word cache's misses: a few KB, whatever the text's length.
            // (Before streaming: 12 bytes per input character for BPE, 48 for WordPiece, 24-96 MB here.)
            Assert.True(allocated < 64_000, $"{tok.Kind}: {allocated:N0} bytes allocated for 128 tokens of a {text.Length:N0}-character text");
        }
    }

    [Theory]
    [InlineData("letters")]    // one word of 2M letters: one [UNK] (over 100 characters), its characters not kept
    [InlineData("controls")]   // 2M characters that the normaliser drops, then a few words
    [InlineData("accents")]    // 'e' + 1M combining accents, stripped as they come
    public void WordPiece_reads_long_hostile_text_in_constant_memory(string kind)
    {
        var tok = Bert();
        string text = kind switch
        {
            "letters" => new string('a', 2_000_000) + " the model",
            "controls" => new string('\u0001', 2_000_000) + " the model",
            _ => "e" + string.Concat(Enumerable.Repeat("\u0301", 1_000_000)) + " the model",
        };
        long allocated = AllocatedBy(() => tok.Encode(text, null, 128), out var enc);
        string[] expected = kind == "letters" ? ["[UNK]", "the", "model"] : kind == "controls" ? ["the", "model"] : ["e", "the", "model"];
        Assert.Equal(expected, tok.TokenStrings(enc.InputIds[1..^1]));
        Assert.True(allocated < 64_000, $"{kind}: {allocated:N0} bytes allocated");
    }

    static long AllocatedBy(Func<TokenizedText> encode, out TokenizedText result)
    {
        encode();   // warm-up: the word cache, lazily built tables
        long before = GC.GetAllocatedBytesForCurrentThread();
        result = encode();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }
}
