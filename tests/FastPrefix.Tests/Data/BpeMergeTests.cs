using FastPrefix.Data.Tokenization;

namespace FastPrefix.Tests.Data;

/// <summary>
/// <see cref="BpeMerges.Apply"/> (a priority queue over a linked list of symbols, as Hugging Face merges) against the
/// definition it must reproduce, on many random words: repeatedly merge the adjacent pair of lowest rank, the leftmost
/// on a tie. The definition is written out below as the oracle, quadratic and only for this test.
/// </summary>
public class BpeMergeTests
{
    /// <summary>The oracle: scan every adjacent pair, merge the best one, start again.</summary>
    static (int Id, int Length)[] MergeByRescanning(BpeMerges merges, int[] ids)
    {
        var symbols = ids.Select(id => (Id: id, Length: 1)).ToList();
        while (true)
        {
            int best = -1, bestRank = int.MaxValue, bestMerged = 0;
            for (int i = 0; i + 1 < symbols.Count; i++)
                if (merges.TryGet(symbols[i].Id, symbols[i + 1].Id, out int rank, out int merged) && rank < bestRank)
                {
                    best = i; bestRank = rank; bestMerged = merged;
                }
            if (best < 0) return [.. symbols];
            symbols[best] = (bestMerged, symbols[best].Length + symbols[best + 1].Length);
            symbols.RemoveAt(best + 1);
        }
    }

    static (int Id, int Length)[] Apply(BpeMerges merges, int[] ids)
    {
        var work = (int[])ids.Clone();
        var lengths = Enumerable.Repeat(1, ids.Length).ToArray();
        int k = merges.Apply(work, lengths);
        return [.. work.Take(k).Zip(lengths.Take(k))];
    }

    [Fact]
    public void RobertaMergesOfRandomWordsEqualTheRescanningDefinition()
    {
        string dir = TestPaths.Fixture("tokenizer-roberta-base");
        var tok = ByteLevelBpeTokenizer.FromFiles(Path.Combine(dir, "vocab.json"), Path.Combine(dir, "merges.txt"));
        // Bytes that merge a lot in English text, a few that repeat into long runs ("!!!!", "----", spaces), and the two
        // bytes of 'é', so that words have many competing and overlapping pairs.
        byte[] alphabet = [.. "eeettaaoinnsrhldu !!--.."u8, 0xC3, 0xA9];
        var rng = new Random(20261130);
        for (int w = 0; w < 20_000; w++)
        {
            int length = w % 100 == 0 ? rng.Next(200, 1500) : rng.Next(1, 48);
            byte run = alphabet[rng.Next(alphabet.Length)];
            var ids = new int[length];
            for (int i = 0; i < length; i++)
                ids[i] = tok.ByteId(rng.Next(4) == 0 ? run : alphabet[rng.Next(alphabet.Length)]);
            Assert.Equal(MergeByRescanning(tok.Merges, ids), Apply(tok.Merges, ids));
        }
    }

    /// <summary>
    /// Rules that a learned vocabulary never has: several pairs make the same token ("a"+"bc", "ab"+"c") and ranks in
    /// random order, so a queued merge is often made stale by an earlier one, which is where a priority-queue merge can
    /// go wrong. A merged id stands for its string, as in a real vocabulary.
    /// </summary>
    [Fact]
    public void OverlappingRulesInRandomRankOrderEqualTheRescanningDefinition()
    {
        var rng = new Random(7);
        for (int vocabulary = 0; vocabulary < 50; vocabulary++)
        {
            var ids = new Dictionary<string, int> { ["a"] = 0, ["b"] = 1, ["c"] = 2 };
            var tokens = new List<string> { "a", "b", "c" };
            var merges = new BpeMerges();
            int rules = rng.Next(5, 60);
            var ranks = Enumerable.Range(0, rules).OrderBy(_ => rng.Next()).ToArray();
            for (int r = 0; r < rules; r++)
            {
                string left = tokens[rng.Next(tokens.Count)], right = tokens[rng.Next(tokens.Count)];
                string merged = left + right;
                if (merged.Length > 6) continue;
                if (!ids.TryGetValue(merged, out int id)) { id = ids[merged] = tokens.Count; tokens.Add(merged); }
                merges.Set(ids[left], ids[right], ranks[r], id);
            }
            for (int w = 0; w < 400; w++)
            {
                var word = Enumerable.Range(0, rng.Next(1, 40)).Select(_ => rng.Next(3)).ToArray();
                Assert.Equal(MergeByRescanning(merges, word), Apply(merges, word));
            }
        }
    }
}
