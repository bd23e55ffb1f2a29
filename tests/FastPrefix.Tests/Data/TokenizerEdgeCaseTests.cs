using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using FastPrefix.Data.Tokenization;

namespace FastPrefix.Tests.Data;

/// <summary>
/// Edge cases beyond the fixture files, on the fixtures' real vocabularies (bert-base-uncased,
/// roberta-base), with expected values produced by the Hugging Face reference itself: tokenizers 0.23.2
/// (Rust) configured as transformers configures it (BertNormalizer + BertPreTokenizer + WordPiece +
/// BertProcessing; ByteLevel + BPE + RobertaProcessing with trim_offsets, &lt;mask&gt; with lstrip).
/// They pin the behaviours that are easy to get subtly wrong: HF's own Unicode tables, special tokens
/// written in the text, trim_offsets quirks, and its longest_first truncation.
/// </summary>
[Trait("Category", "Reference")]
public class TokenizerEdgeCaseTests
{
    const string Expected = """"
        {"folder": "tokenizer-bert-base-uncased", "options": {}, "why": "special tokens written in the text are matched exactly, case-sensitively", "text": "[MASK] [mask] Hello [CLS]x[SEP] [UNK]", "text_pair": null, "max_length": null, "input_ids": [101, 103, 1031, 7308, 1033, 7592, 101, 1060, 102, 100, 102], "token_type_ids": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "offsets": [[0, 0], [0, 6], [7, 8], [8, 12], [12, 13], [14, 19], [20, 25], [25, 26], [26, 31], [32, 37], [0, 0]], "word_ids": [null, 0, 1, 2, 3, 4, 5, 6, 7, 8, null]}
        {"folder": "tokenizer-bert-base-uncased", "options": {}, "why": "emoji newer than Unicode 8 are [UNK], not dropped", "text": "\ud83e\udd70 \ud83e\udd29 x\ud83e\udd70y \ud83e\udee0", "text_pair": null, "max_length": null, "input_ids": [101, 100, 100, 100, 100, 102], "token_type_ids": [0, 0, 0, 0, 0, 0], "offsets": [[0, 0], [0, 1], [2, 3], [4, 7], [8, 9], [0, 0]], "word_ids": [null, 0, 1, 2, 3, null]}
        {"folder": "tokenizer-bert-base-uncased", "options": {}, "why": "Unicode 8.0 categories: U+08E2 kept, U+2E43 not punctuation, U+1DFA not stripped, unassigned kept", "text": "a\u08e2b c\u2e43d e\u1dfaf g\u0378h", "text_pair": null, "max_length": null, "input_ids": [101, 100, 100, 100, 100, 102], "token_type_ids": [0, 0, 0, 0, 0, 0], "offsets": [[0, 0], [0, 3], [4, 7], [8, 11], [12, 15], [0, 0]], "word_ids": [null, 0, 1, 2, 3, null]}
        {"folder": "tokenizer-bert-base-uncased", "options": {}, "why": "controls, format, private-use, NUL and U+FFFD removed; U+2028 is whitespace", "text": "a\u000bb c\u0085d k\u200bl m\ufeffn o\u00adp q\ue000r s\u0000t u\ufffdv w\u007fx y\u2028z", "text_pair": null, "max_length": null, "input_ids": [101, 11113, 3729, 1047, 2140, 24098, 6728, 1053, 2099, 2358, 23068, 1059, 2595, 1061, 1062, 102], "token_type_ids": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "offsets": [[0, 0], [0, 3], [4, 7], [8, 9], [10, 11], [12, 15], [16, 19], [20, 21], [22, 23], [24, 27], [28, 31], [32, 33], [34, 35], [36, 37], [38, 39], [0, 0]], "word_ids": [null, 0, 1, 2, 2, 3, 4, 5, 5, 6, 7, 8, 8, 9, 10, null]}
        {"folder": "tokenizer-bert-base-uncased", "options": {}, "why": "lower-casing and NFD: dotted I, final sigma, ligature, Angstrom and Kelvin signs", "text": "\u0130stanbul \u039f\u0394\u039f\u03a3 \ufb01 \u00bd \u212b \u212a", "text_pair": null, "max_length": null, "input_ids": [101, 9960, 1169, 29722, 29730, 29733, 1984, 1092, 1037, 1047, 102], "token_type_ids": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "offsets": [[0, 0], [0, 8], [9, 10], [10, 11], [11, 12], [12, 13], [14, 15], [16, 17], [18, 19], [20, 21], [0, 0]], "word_ids": [null, 0, 1, 1, 1, 1, 2, 3, 4, 5, null]}
        {"folder": "tokenizer-bert-base-uncased", "options": {}, "why": "combining marks reordered and stripped", "text": "a\u0328\u0301 \u1e0b\u0323 e\u0301", "text_pair": null, "max_length": null, "input_ids": [101, 1037, 1040, 1041, 102], "token_type_ids": [0, 0, 0, 0, 0], "offsets": [[0, 0], [0, 1], [4, 5], [7, 8], [0, 0]], "word_ids": [null, 0, 1, 2, null]}
        {"folder": "tokenizer-bert-base-uncased", "options": {}, "why": "CJK ideographs split, Hangul decomposed to jamo, compatibility ideograph decomposed", "text": "abc\u4e2d\u6587def \ud55c\uad6d\uc5b4 \uf900", "text_pair": null, "max_length": null, "input_ids": [101, 5925, 1746, 1861, 13366, 1469, 30006, 30021, 29991, 30014, 30020, 29999, 30008, 100, 102], "token_type_ids": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "offsets": [[0, 0], [0, 3], [3, 4], [4, 5], [5, 8], [9, 10], [9, 10], [9, 10], [10, 11], [10, 11], [10, 11], [11, 12], [11, 12], [13, 14], [0, 0]], "word_ids": [null, 0, 1, 2, 3, 4, 4, 4, 4, 4, 4, 4, 4, 5, null]}
        {"folder": "tokenizer-bert-base-uncased", "options": {}, "why": "a word over 100 characters is one [UNK]; exactly 100 is not", "text": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx abababababababababababababababababababababababababababababababababababababababababababababababababab", "text_pair": null, "max_length": null, "input_ids": [101, 100, 19557, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 3676, 2497, 102], "token_type_ids": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "offsets": [[0, 0], [0, 101], [102, 105], [105, 107], [107, 109], [109, 111], [111, 113], [113, 115], [115, 117], [117, 119], [119, 121], [121, 123], [123, 125], [125, 127], [127, 129], [129, 131], [131, 133], [133, 135], [135, 137], [137, 139], [139, 141], [141, 143], [143, 145], [145, 147], [147, 149], [149, 151], [151, 153], [153, 155], [155, 157], [157, 159], [159, 161], [161, 163], [163, 165], [165, 167], [167, 169], [169, 171], [171, 173], [173, 175], [175, 177], [177, 179], [179, 181], [181, 183], [183, 185], [185, 187], [187, 189], [189, 191], [191, 193], [193, 195], [195, 197], [197, 199], [199, 201], [201, 202], [0, 0]], "word_ids": [null, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, null]}
        {"folder": "tokenizer-bert-base-uncased", "options": {}, "why": "truncation: a special token in the text does not trigger the reference's early stop", "text": "a b c [PAD] x", "text_pair": "a b c d", "max_length": 4, "input_ids": [101, 1037, 102, 102], "token_type_ids": [0, 0, 0, 1], "offsets": [[0, 0], [0, 1], [0, 0], [0, 0]], "sequence_ids": [null, 0, null, null]}
        {"folder": "tokenizer-bert-base-uncased", "options": {}, "why": "truncation: the reference compares lengths after its early stop (tie: the second gets the odd token)", "text": "a a a a a a a", "text_pair": "a a a a a a", "max_length": 6, "input_ids": [101, 1037, 102, 1037, 1037, 102], "token_type_ids": [0, 0, 0, 1, 1, 1], "offsets": [[0, 0], [0, 1], [0, 0], [0, 1], [2, 3], [0, 0]], "sequence_ids": [null, 0, null, 1, 1, null]}
        {"folder": "tokenizer-bert-base-uncased", "options": {}, "why": "truncation: the word that crosses max_length is kept whole before comparing", "text": "unaffable unaffable", "text_pair": "a b c d", "max_length": 4, "input_ids": [101, 14477, 102, 102], "token_type_ids": [0, 0, 0, 1], "offsets": [[0, 0], [0, 3], [0, 0], [0, 0]], "sequence_ids": [null, 0, null, null]}
        {"folder": "tokenizer-bert-base-uncased", "options": {}, "why": "truncation: only the longer sequence is cut when the shorter fits", "text": "a b c d e f g h", "text_pair": "i j", "max_length": 7, "input_ids": [101, 1037, 1038, 102, 1045, 1046, 102], "token_type_ids": [0, 0, 0, 0, 1, 1, 1], "offsets": [[0, 0], [0, 1], [2, 3], [0, 0], [0, 1], [2, 3], [0, 0]], "sequence_ids": [null, 0, 0, null, 1, 1, null]}
        {"folder": "tokenizer-bert-base-uncased", "options": {"lower": true, "strip": false}, "why": "lower-case without accent stripping", "text": "\u0130stanbul CAF\u00c9 na\u00efve", "text_pair": null, "max_length": null, "input_ids": [101, 100, 100, 100, 102], "token_type_ids": [0, 0, 0, 0, 0], "offsets": [[0, 0], [0, 8], [9, 13], [14, 19], [0, 0]], "word_ids": [null, 0, 1, 2, null]}
        {"folder": "tokenizer-bert-base-uncased", "options": {"lower": false}, "why": "cased: no lower-casing, no accent stripping", "text": "Hello World \u00c5NGSTR\u00d6M [MASK]", "text_pair": null, "max_length": null, "input_ids": [101, 100, 100, 100, 103, 102], "token_type_ids": [0, 0, 0, 0, 0, 0], "offsets": [[0, 0], [0, 5], [6, 11], [12, 20], [21, 27], [0, 0]], "word_ids": [null, 0, 1, 2, 3, null]}
        {"folder": "tokenizer-roberta-base", "options": {}, "why": "special tokens in the text; <mask> swallows the space before it", "text": "Hello <mask> world <s>x</s> <pad><unk>", "text_pair": null, "max_length": null, "input_ids": [0, 31414, 50264, 232, 1437, 0, 1178, 2, 1437, 1, 3, 2], "token_type_ids": null, "offsets": [[0, 0], [0, 5], [6, 12], [13, 18], [19, 19], [19, 22], [22, 23], [23, 27], [28, 28], [28, 33], [33, 38], [0, 0]], "word_ids": [null, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, null]}
        {"folder": "tokenizer-roberta-base", "options": {}, "why": "letters outside the BMP are \\p{L}", "text": "\ud835\udc00\ud835\udc01c \ud840\udc00\ud840\udc01 a\ud835\udc00", "text_pair": null, "max_length": null, "input_ids": [0, 40756, 16948, 7471, 40756, 16948, 10172, 438, 1437, 49585, 21402, 7471, 7471, 49585, 21402, 7471, 10172, 10, 40756, 16948, 7471, 2], "token_type_ids": null, "offsets": [[0, 0], [0, 1], [0, 1], [0, 1], [1, 2], [1, 2], [1, 2], [2, 3], [4, 4], [4, 5], [4, 5], [4, 5], [4, 5], [5, 6], [5, 6], [5, 6], [5, 6], [7, 8], [8, 9], [8, 9], [8, 9], [0, 0]], "word_ids": [null, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, null]}
        {"folder": "tokenizer-roberta-base", "options": {}, "why": "contractions are lower-case only; number and symbol runs", "text": "'S 'll ''s don't's 12345 123abc ,,, ..a", "text_pair": null, "max_length": null, "input_ids": [0, 108, 104, 128, 890, 12801, 29, 218, 75, 18, 17072, 1898, 17072, 36822, 2156, 38581, 29942, 102, 2], "token_type_ids": null, "offsets": [[0, 0], [0, 1], [1, 2], [3, 4], [4, 6], [7, 9], [9, 10], [11, 14], [14, 16], [16, 18], [19, 22], [22, 24], [25, 28], [28, 31], [32, 33], [33, 35], [36, 38], [38, 39], [0, 0]], "word_ids": [null, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 10, 11, 12, 12, 13, 14, null]}
        {"folder": "tokenizer-roberta-base", "options": {}, "why": "whitespace runs leave their last space to the next word", "text": "a  \n b\t\tc \r\n d   ", "text_pair": null, "max_length": null, "input_ids": [0, 102, 1437, 1437, 50118, 741, 50117, 50117, 438, 1437, 50121, 50118, 385, 1437, 1437, 1437, 2], "token_type_ids": null, "offsets": [[0, 0], [0, 1], [2, 2], [3, 3], [3, 4], [5, 6], [6, 7], [7, 8], [8, 9], [10, 10], [10, 11], [11, 12], [13, 14], [15, 15], [16, 16], [17, 17], [0, 0]], "word_ids": [null, 0, 1, 1, 1, 2, 3, 4, 5, 6, 6, 6, 7, 8, 8, 8, null]}
        {"folder": "tokenizer-roberta-base", "options": {}, "why": "non-ASCII spaces", "text": "\u00a0x \u2003 y \u2003", "text_pair": null, "max_length": null, "input_ids": [0, 50141, 1178, 44, 862, 1423, 44, 862, 2], "token_type_ids": null, "offsets": [[0, 0], [0, 1], [1, 2], [3, 4], [3, 4], [5, 6], [7, 8], [7, 8], [0, 0]], "word_ids": [null, 0, 1, 2, 2, 3, 4, 4, null]}
        {"folder": "tokenizer-roberta-base", "options": {}, "why": "spaces only: trimmed offsets collapse", "text": "  ", "text_pair": null, "max_length": null, "input_ids": [0, 1437, 1437, 2], "token_type_ids": null, "offsets": [[0, 0], [1, 1], [2, 2], [0, 0]], "word_ids": [null, 0, 0, null]}
        {"folder": "tokenizer-roberta-base", "options": {}, "why": "truncation of a RoBERTa pair", "text": "a a a a a a a", "text_pair": "a a a a a a", "max_length": 7, "input_ids": [0, 102, 10, 2, 2, 102, 2], "token_type_ids": null, "offsets": [[0, 0], [0, 1], [2, 3], [0, 0], [0, 0], [0, 1], [0, 0]], "sequence_ids": [null, 0, 0, null, null, 1, null]}
        {"folder": "tokenizer-roberta-base", "options": {"addPrefixSpace": true}, "why": "add_prefix_space: each text piece gets a space; the first token keeps its offsets", "text": "Hello <mask> world <s>x</s>", "text_pair": null, "max_length": null, "input_ids": [0, 20920, 50264, 232, 1437, 0, 3023, 2, 2], "token_type_ids": null, "offsets": [[0, 0], [0, 5], [6, 12], [13, 18], [19, 19], [19, 22], [23, 23], [23, 27], [0, 0]], "word_ids": [null, 0, 1, 2, 3, 4, 5, 6, null]}
        {"folder": "tokenizer-roberta-base", "options": {"addPrefixSpace": true}, "why": "add_prefix_space with a pair", "text": " Hello", "text_pair": "world", "max_length": null, "input_ids": [0, 20920, 2, 2, 232, 2], "token_type_ids": null, "offsets": [[0, 0], [0, 6], [0, 0], [0, 0], [0, 5], [0, 0]], "sequence_ids": [null, 0, null, null, 1, null]}
        {"folder": "tokenizer-roberta-base", "options": {"addPrefixSpace": true}, "why": "add_prefix_space before a non-ASCII space", "text": "\u00a0x", "text_pair": null, "max_length": null, "input_ids": [0, 1437, 50141, 1178, 2], "token_type_ids": null, "offsets": [[0, 0], [0, 0], [0, 1], [1, 2], [0, 0]], "word_ids": [null, 0, 1, 2, null]}
        """";

    static readonly ConcurrentDictionary<string, Lazy<ITextTokenizer>> Cache = new();

    public static IEnumerable<TheoryDataRow<int>> Cases()
    {
        var lines = Lines();
        for (int i = 0; i < lines.Length; i++)
        {
            var c = JsonNode.Parse(lines[i])!;
            yield return new TheoryDataRow<int>(i) { TestDisplayName = $"edge #{i} {c["folder"]}: {c["why"]}" };
        }
    }

    static string[] Lines() => Expected.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesHuggingFaceReference(int index)
    {
        var c = JsonNode.Parse(Lines()[index])!.AsObject();
        var tokenizer = Load(c["folder"]!.GetValue<string>(), c["options"]!.AsObject());
        var r = tokenizer.Encode(c["text"]!.GetValue<string>(), c["text_pair"]?.GetValue<string>(), c["max_length"]?.GetValue<int>());

        Assert.Equal(c["input_ids"]!.AsArray().Select(x => x!.GetValue<int>()).ToArray(), r.InputIds);
        if (c["token_type_ids"] is JsonArray types) Assert.Equal(types.Select(x => x!.GetValue<int>()).ToArray(), r.TokenTypeIds);
        else Assert.Null(r.TokenTypeIds);
        Assert.Equal(c["offsets"]!.AsArray().Select(o => (o![0]!.GetValue<int>(), o[1]!.GetValue<int>())).ToArray(),
            r.Offsets.Select(o => (o.Start, o.End)).ToArray());
        if (c["word_ids"] is JsonArray words) Assert.Equal(words.Select(x => x?.GetValue<int>()).ToArray(), r.WordIds);
        if (c["sequence_ids"] is JsonArray seqs) Assert.Equal(seqs.Select(x => x?.GetValue<int>()).ToArray(), r.SequenceIds);
    }

    static ITextTokenizer Load(string folder, JsonObject options)
    {
        string key = folder + options.ToJsonString();
        return Cache.GetOrAdd(key, _ => new Lazy<ITextTokenizer>(() =>
        {
            string dir = TestPaths.Fixture(folder);
            bool? Opt(string name) => options[name]?.GetValue<bool>();
            return folder.Contains("roberta")
                ? ByteLevelBpeTokenizer.FromFiles(Path.Combine(dir, "vocab.json"), Path.Combine(dir, "merges.txt"), Opt("addPrefixSpace") ?? false)
                : WordPieceTokenizer.FromVocabFile(Path.Combine(dir, "vocab.txt"), Opt("lower") ?? true, Opt("strip"), Opt("chinese") ?? true);
        })).Value;
    }
}
