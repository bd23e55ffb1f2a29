using System.Diagnostics;
using FastPrefix.Data.Tokenization;

namespace FastPrefix.Bench;

/// <summary>
/// `-- tokenize-hostile CASE [MAX] [bpe|wordpiece]`: time, allocation and peak memory of one Encode of hostile input
/// with the roberta-base BPE fixture (default) or the bert-base-uncased WordPiece one (CASE text26m: 26M characters of
/// prose-like words; bangs1m: 1M '!'), with truncation to MAX (0: none). Run one case per process so the peak working
/// set belongs to it; the peak before Encode (making the input) is printed beside it (bench/RESULTS.md).
/// </summary>
internal static class HostileTokenizerInput
{
    public static void Run(string which, int max, string kind)
    {
        string fixtures = Path.Combine(AppContext.BaseDirectory, "../../../../../tests/fixtures");
        string bpe = Path.Combine(fixtures, "tokenizer-roberta-base");
        ITextTokenizer tok = kind == "wordpiece"
            ? WordPieceTokenizer.FromVocabFile(Path.Combine(fixtures, "tokenizer-bert-base-uncased", "vocab.txt"))
            : ByteLevelBpeTokenizer.FromFiles(Path.Combine(bpe, "vocab.json"), Path.Combine(bpe, "merges.txt"));
        string text = which switch
        {
            "bangs1m" => new string('!', 1_000_000),
            _ => Prose(26_000_000),
        };
        tok.Encode("warm up !!! naïve —", null, max > 0 ? max : null);
        GC.Collect();
        long peakBefore = Process.GetCurrentProcess().PeakWorkingSet64;
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var clock = Stopwatch.StartNew();
        var enc = tok.Encode(text, null, max > 0 ? max : null);
        clock.Stop();
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Console.WriteLine($"{kind} {which} max {max}: {enc.Length:N0} tokens, {(clock.Elapsed.TotalSeconds < 1 ? $"{clock.Elapsed.TotalMilliseconds:N1} ms" : $"{clock.Elapsed.TotalSeconds:F2} s")}, allocated {(allocated < 1_000_000 ? $"{allocated / 1e3:N1} KB" : $"{allocated / 1e6:N0} MB")}, " +
                          $"peak working set {Process.GetCurrentProcess().PeakWorkingSet64 / 1e6:N0} MB (before Encode {peakBefore / 1e6:N0} MB; " +
                          $"input string {text.Length * 2 / 1e6:N0} MB)");
    }

    static string Prose(int length)
    {
        string[] words = ["the", "model", "is", "frozen", "and", "only", "a", "prefix", "trains,", "quickly.", "Dépôt", "naïve", "123", "—"];
        var sb = new System.Text.StringBuilder(length + 16);
        var rng = new Random(1);
        while (sb.Length < length) sb.Append(words[rng.Next(words.Length)]).Append(' ');
        return sb.ToString(0, length);
    }
}
