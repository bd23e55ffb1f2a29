using System.Text.Json;
using FastPrefix.IO;

namespace FastPrefix.Data.Tokenization;

/// <summary>Loads the tokenizer of a Hugging Face checkpoint folder.</summary>
public static class TokenizerFactory
{
    const string VocabTxt = "vocab.txt", VocabJson = "vocab.json", MergesTxt = "merges.txt", ConfigJson = "tokenizer_config.json";

    /// <summary>
    /// vocab.txt → <see cref="WordPieceTokenizer"/> (tokenizer_config.json's do_lower_case, strip_accents,
    /// tokenize_chinese_chars; uncased when absent); vocab.json + merges.txt → <see cref="ByteLevelBpeTokenizer"/>
    /// (add_prefix_space, trim_offsets). Special-token strings (unk_token, cls_token, …) are read from the
    /// config when it names them. When both kinds of files are present, tokenizer_class decides (BERT-like
    /// classes take vocab.txt). Anything missing or malformed is a <see cref="TokenizerException"/>.
    /// </summary>
    public static ITextTokenizer FromFolder(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        if (!Directory.Exists(folder))
            throw new TokenizerException($"tokenizer folder not found (looked for {VocabTxt}, or {VocabJson} + {MergesTxt})", folder);

        var config = ReadConfig(Path.Combine(folder, ConfigJson));
        string vocabTxt = Path.Combine(folder, VocabTxt), vocabJson = Path.Combine(folder, VocabJson), mergesTxt = Path.Combine(folder, MergesTxt);
        bool hasTxt = File.Exists(vocabTxt), hasJson = File.Exists(vocabJson), hasMerges = File.Exists(mergesTxt);

        bool useBpe = hasJson && (!hasTxt || PrefersBpe(config));
        if (useBpe)
        {
            if (!hasMerges)
                throw new TokenizerException($"{VocabJson} is there but {MergesTxt} is missing: a byte-level BPE tokenizer needs both", folder);
            var names = Names(config, SpecialTokenNames.Roberta);
            return ByteLevelBpeTokenizer.FromFiles(vocabJson, mergesTxt,
                Bool(config, "add_prefix_space") ?? false, Bool(config, "trim_offsets") ?? true, names);
        }
        if (hasTxt)
        {
            var names = Names(config, SpecialTokenNames.Bert);
            return WordPieceTokenizer.FromVocabFile(vocabTxt,
                Bool(config, "do_lower_case") ?? true, Bool(config, "strip_accents"), Bool(config, "tokenize_chinese_chars") ?? true, names);
        }
        throw new TokenizerException($"no tokenizer files: looked for {VocabTxt} (WordPiece) and {VocabJson} + {MergesTxt} (byte-level BPE)", folder);
    }

    /// <summary>
    /// The tokenizer's ids must be rows of the model's embedding table: a vocabulary larger than config.json's vocab_size
    /// would give ids the model cannot embed.
    /// </summary>
    public static void CheckFits(ITextTokenizer tokenizer, Model.EncoderConfig config, string folder)
    {
        if (tokenizer.VocabSize > config.VocabSize)
            throw new TokenizerException($"the tokenizer's vocabulary has {tokenizer.VocabSize} ids but config.json's vocab_size is {config.VocabSize}: " +
                                         "tokens past it cannot be embedded (is the tokenizer from another model?)", folder);
    }

    /// <summary>Both vocab.txt and vocab.json present: RoBERTa-like classes take BPE, other BERT-like ones WordPiece.</summary>
    static bool PrefersBpe(Dictionary<string, JsonElement> config)
    {
        if (!config.TryGetValue("tokenizer_class", out var c) || c.ValueKind != JsonValueKind.String) return false;
        string name = c.GetString() ?? "";
        return name.Contains("Roberta", StringComparison.OrdinalIgnoreCase) || !name.Contains("Bert", StringComparison.OrdinalIgnoreCase);
    }

    static Dictionary<string, JsonElement> ReadConfig(string path)
    {
        var result = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        if (!File.Exists(path)) return result;
        try
        {
            using var doc = StrictJson.ParseFile(path, p => new TokenizerException(p.WithPath, path, p.Line));
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new TokenizerException("expected a JSON object", path, 1);
            foreach (var p in doc.RootElement.EnumerateObject()) result[p.Name] = p.Value.Clone();
        }
        catch (JsonException e)
        {
            throw new TokenizerException("invalid JSON: " + e.Message, path, (int?)(e.LineNumber + 1), e);
        }
        catch (IOException e)
        {
            throw new TokenizerException("cannot read the tokenizer config: " + e.Message, path, null, e);
        }
        return result;
    }

    static bool? Bool(Dictionary<string, JsonElement> config, string key) =>
        config.TryGetValue(key, out var v) ? v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => null,
        } : null;

    /// <summary>A special token as tokenizer_config.json writes it: a string, or an object with "content".</summary>
    static string? Token(Dictionary<string, JsonElement> config, string key)
    {
        if (!config.TryGetValue(key, out var v)) return null;
        if (v.ValueKind == JsonValueKind.String) return v.GetString();
        if (v.ValueKind == JsonValueKind.Object && v.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String) return c.GetString();
        return null;
    }

    static SpecialTokenNames Names(Dictionary<string, JsonElement> config, SpecialTokenNames defaults) => new(
        Token(config, "unk_token") ?? defaults.Unk,
        Token(config, "cls_token") ?? defaults.Cls,
        Token(config, "sep_token") ?? defaults.Sep,
        Token(config, "pad_token") ?? defaults.Pad,
        Token(config, "mask_token") ?? defaults.Mask);
}
