using FastPrefix.Data.Tokenization;

namespace FastPrefix.Tests.Hardening;

/// <summary>
/// With truncation, tokenizing stops after the word that reaches max_length (the reference's early stop), so a huge
/// input costs a pass over its characters, not tokens, offsets and word ids for all of it (26M characters: 731 → 312 MB).
/// </summary>
public class HostileTokenizerInputTests
{
    static string Prose(int length)
    {
        string[] words = ["the", "model", "is", "frozen", "and", "only", "a", "prefix", "trains,", "quickly.", "naïve", "123"];
        var sb = new System.Text.StringBuilder(length + 16);
        var rng = new Random(1);
        while (sb.Length < length) sb.Append(words[rng.Next(words.Length)]).Append(' ');
        return sb.ToString(0, length);
    }

    [Fact]
    public void Truncated_encoding_of_a_long_text_allocates_in_proportion_to_the_input_chars_not_its_tokens()
    {
        string dir = TestPaths.Fixture("tokenizer-roberta-base");
        var bpe = ByteLevelBpeTokenizer.FromFiles(Path.Combine(dir, "vocab.json"), Path.Combine(dir, "merges.txt"));
        var wordPiece = WordPieceTokenizer.FromVocabFile(Path.Combine(TestPaths.Fixture("tokenizer-bert-base-uncased"), "vocab.txt"));
        string text = Prose(2_000_000);
        foreach (ITextTokenizer tok in new ITextTokenizer[] { bpe, wordPiece })
        {
            tok.Encode("warm up", null, 16);
            long before = GC.GetAllocatedBytesForCurrentThread();
            var enc = tok.Encode(text, null, 128);
            long perChar = (GC.GetAllocatedBytesForCurrentThread() - before) / text.Length;
            Assert.Equal(128, enc.Length);
            Assert.True(enc.NumTruncated > 0);
            // BPE: the whole-input passes cost 12 bytes per character (code points and their copies); tokens for all of it
            // cost 28. WordPiece still normalises a whole text segment before splitting it (about 48 bytes per character).
            Assert.True(perChar <= (tok is WordPieceTokenizer ? 64 : 16), $"{tok.Kind}: {perChar} bytes allocated per input character");
            Assert.Equal(tok.Encode(text[..4000], null, 128).InputIds, enc.InputIds);
        }
    }
}
