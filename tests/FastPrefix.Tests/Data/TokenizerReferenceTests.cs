using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using FastPrefix.Data.Tokenization;

namespace FastPrefix.Tests.Data;

/// <summary>
/// Every case of every tokenizer fixture folder (…/tokenizer_cases.jsonl, produced by Hugging Face
/// <c>transformers</c>) must come out identical: input_ids, token_type_ids, offsets, and word_ids /
/// sequence_ids where the fixture has them. The tokenizer is loaded from the folder's own files and
/// tokenizer_config.json, so new fixture folders of the same format are picked up as they are.
/// </summary>
[Trait("Category", "Reference")]
public class TokenizerReferenceTests
{
    const string CasesFile = "tokenizer_cases.jsonl";

    static readonly ConcurrentDictionary<string, Lazy<ITextTokenizer>> Tokenizers = new();
    static readonly ConcurrentDictionary<string, Lazy<JsonObject[]>> CaseFiles = new();

    public static IEnumerable<TheoryDataRow<string, int>> Cases()
    {
        // No fixture folder: one row that skips (or fails) with the reason, instead of a theory without data.
        if (!TestPaths.FixtureFoldersWith(CasesFile).Any()) yield return new TheoryDataRow<string, int>("", -1);
        foreach (var dir in TestPaths.FixtureFoldersWith(CasesFile))
        {
            string folder = Path.GetFileName(dir);
            var cases = LoadCases(folder);
            for (int i = 0; i < cases.Length; i++)
            {
                var c = cases[i];
                string preview = Preview(c["text"]?.GetValue<string>() ?? "");
                if (c["text_pair"] is JsonNode pair) preview += " | " + Preview(pair.GetValue<string>());
                if (c["max_length"] is JsonNode max) preview += $" (max {max})";
                yield return new TheoryDataRow<string, int>(folder, i) { TestDisplayName = $"{folder} #{i}: {preview}" };
            }
        }
    }

    [Fact]
    public void TokenizerFixturesArePresent() => Assert.NotEmpty(TestPaths.RequireFixturesWith(CasesFile));

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesHuggingFace(string folder, int index)
    {
        if (index < 0) TestPaths.RequireFixturesWith(CasesFile);
        var c = LoadCases(folder)[index];
        var tokenizer = Load(folder);
        string text = c["text"]!.GetValue<string>();
        string? pair = c["text_pair"]?.GetValue<string>();
        int? maxLength = c["max_length"]?.GetValue<int>();

        var result = tokenizer.Encode(text, pair, maxLength);

        Assert.Equal(Ints(c["input_ids"])!, result.InputIds);
        var types = Ints(c["token_type_ids"]);
        if (types is null) Assert.Null(result.TokenTypeIds);
        else Assert.Equal(types, result.TokenTypeIds);
        var offsets = c["offsets"]!.AsArray().Select(o => (o![0]!.GetValue<int>(), o[1]!.GetValue<int>())).ToArray();
        Assert.Equal(offsets, result.Offsets.Select(o => (o.Start, o.End)).ToArray());
        if (c["word_ids"] is JsonArray words)
            Assert.Equal(words.Select(w => w?.GetValue<int>()).ToArray(), result.WordIds);
        if (c["sequence_ids"] is JsonArray seqs)
            Assert.Equal(seqs.Select(s => s?.GetValue<int>()).ToArray(), result.SequenceIds);
        Assert.Equal(result.InputIds.Length, result.Offsets.Length);
        Assert.Equal(result.InputIds.Length, result.WordIds.Length);
        Assert.Equal(result.InputIds.Length, result.SequenceIds.Length);
    }

    static ITextTokenizer Load(string folder) =>
        Tokenizers.GetOrAdd(folder, f => new Lazy<ITextTokenizer>(() =>
        {
            string dir = Path.Combine(TestPaths.FixturesRoot, f);
            try { return TokenizerFactory.FromFolder(dir); }
            catch (TokenizerException e)
            {
                Assert.Fail($"Fixture folder '{f}' ({dir}) has no loadable tokenizer: it needs vocab.txt (WordPiece) or vocab.json + merges.txt (byte-level BPE). {e.Message}");
                throw;
            }
        })).Value;

    static JsonObject[] LoadCases(string folder) =>
        CaseFiles.GetOrAdd(folder, f => new Lazy<JsonObject[]>(() =>
            File.ReadAllLines(Path.Combine(TestPaths.FixturesRoot, f, CasesFile))
                .Where(l => !string.IsNullOrWhiteSpace(l))
                .Select(l => JsonNode.Parse(l)!.AsObject())
                .ToArray())).Value;

    static int[]? Ints(JsonNode? node) => node is JsonArray a ? a.Select(x => x!.GetValue<int>()).ToArray() : null;

    static string Preview(string s)
    {
        if (s.Length == 0) return "(empty)";
        var sb = new System.Text.StringBuilder();
        foreach (var r in s.EnumerateRunes())
        {
            if (sb.Length >= 32) { sb.Append('…'); break; }
            if (System.Text.Rune.IsControl(r) || r.Value is 0x200B or 0x200C or 0x200D or 0xFEFF) sb.Append($"\\u{r.Value:X4}");
            else sb.Append(r.ToString());
        }
        return sb.ToString();
    }
}
