using System.Text.Json;
using System.Text.Json.Nodes;
using FastPrefix.IO;

namespace FastPrefix.Onnx.Import;

/// <summary>Where an import takes its tokenizer from: explicit files, else the files beside the .onnx model.</summary>
public sealed record TokenizerSource
{
    /// <summary>vocab.txt (WordPiece) or vocab.json (byte-level BPE).</summary>
    public string? Vocab { get; init; }
    /// <summary>merges.txt, for a vocab.json (default: beside it).</summary>
    public string? Merges { get; init; }
    /// <summary>tokenizer_config.json (default: beside the vocabulary, if there).</summary>
    public string? Config { get; init; }
    /// <summary>Sets do_lower_case of a WordPiece tokenizer (default: the config's, else uncased).</summary>
    public bool? LowerCase { get; init; }
}

/// <summary>Finds the tokenizer files of an import and copies them into the model folder under Hugging Face names.</summary>
internal static class TokenizerFiles
{
    public static IReadOnlyList<string> Copy(string onnxPath, TokenizerSource source, string folder)
    {
        string beside = Path.GetDirectoryName(Path.GetFullPath(onnxPath))!;
        string vocab = source.Vocab ?? FirstExisting(beside, "vocab.txt", "vocab.json")
            ?? throw new OnnxFormatException($"{Path.GetFullPath(onnxPath)}: no tokenizer beside the model (vocab.txt, or vocab.json + merges.txt); give --vocab");
        if (!File.Exists(vocab)) throw new OnnxFormatException($"{Path.GetFullPath(vocab)}: vocabulary file not found (--vocab)");
        string vocabDir = Path.GetDirectoryName(Path.GetFullPath(vocab))!;
        bool bpe = vocab.EndsWith(".json", StringComparison.OrdinalIgnoreCase);
        var written = new List<string>();
        void Put(string from, string name) { AtomicFile.Write(Path.Combine(folder, name), s => { using var f = File.OpenRead(from); f.CopyTo(s); }); written.Add(name); }

        if (bpe)
        {
            string merges = source.Merges ?? Path.Combine(vocabDir, "merges.txt");
            if (!File.Exists(merges)) throw new OnnxFormatException($"{Path.GetFullPath(merges)}: a byte-level BPE vocabulary (vocab.json) needs merges.txt (--merges)");
            Put(vocab, "vocab.json");
            Put(merges, "merges.txt");
        }
        else
        {
            if (source.Merges != null) throw new OnnxFormatException($"--merges {source.Merges}: merges belong to a vocab.json (byte-level BPE), not to a WordPiece vocab.txt");
            Put(vocab, "vocab.txt");
        }

        string? config = source.Config ?? FirstExisting(vocabDir, "tokenizer_config.json") ?? FirstExisting(beside, "tokenizer_config.json");
        if (config != null && !File.Exists(config)) throw new OnnxFormatException($"{Path.GetFullPath(config)}: tokenizer config not found (--tokenizer-config)");
        if (config == null && source.LowerCase == null) return written;
        JsonObject json;
        try { json = config == null ? new JsonObject() : JsonNode.Parse(File.ReadAllText(config)) as JsonObject ?? throw new JsonException("not a JSON object"); }
        catch (JsonException e) { throw new OnnxFormatException($"{Path.GetFullPath(config!)}: not a valid tokenizer config ({e.Message})", e); }
        if (source.LowerCase is bool lower) json["do_lower_case"] = lower;
        AtomicFile.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        written.Add("tokenizer_config.json");
        return written;
    }

    static string? FirstExisting(string dir, params string[] names) =>
        names.Select(n => Path.Combine(dir, n)).FirstOrDefault(File.Exists);
}
