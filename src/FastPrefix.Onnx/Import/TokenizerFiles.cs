using System.Text.Json;
using System.Text.Json.Nodes;
using FastPrefix.Data.Tokenization;
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

/// <summary>
/// The tokenizer files of an import under their Hugging Face names: found (and checked by loading them) before anything
/// is written, then written into the model folder.
/// </summary>
internal sealed class TokenizerFiles
{
    readonly List<(string From, string Name)> _copies = [];
    string? _configJson;

    TokenizerFiles() { }

    public IEnumerable<string> Names => _copies.Select(c => c.Name).Concat(_configJson == null ? [] : ["tokenizer_config.json"]);
    public long Bytes => _copies.Sum(c => new FileInfo(c.From).Length) + (_configJson?.Length ?? 0);

    public static TokenizerFiles Find(string onnxPath, TokenizerSource source)
    {
        string beside = Path.GetDirectoryName(Path.GetFullPath(onnxPath))!;
        string vocab = source.Vocab ?? FirstExisting(beside, "vocab.txt", "vocab.json")
            ?? throw new OnnxFormatException($"{Path.GetFullPath(onnxPath)}: no tokenizer beside the model (vocab.txt, or vocab.json + merges.txt); give --vocab");
        if (!File.Exists(vocab)) throw new OnnxFormatException($"--vocab {Path.GetFullPath(vocab)}: vocabulary file not found");
        string vocabDir = Path.GetDirectoryName(Path.GetFullPath(vocab))!;
        var files = new TokenizerFiles();
        if (vocab.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            string merges = source.Merges ?? Path.Combine(vocabDir, "merges.txt");
            if (!File.Exists(merges)) throw new OnnxFormatException($"--merges {Path.GetFullPath(merges)}: a byte-level BPE vocabulary (vocab.json) needs merges.txt");
            files._copies.AddRange([(vocab, "vocab.json"), (merges, "merges.txt")]);
        }
        else
        {
            if (source.Merges != null) throw new OnnxFormatException($"--merges {source.Merges}: merges belong to a vocab.json (byte-level BPE), not to a WordPiece vocab.txt");
            files._copies.Add((vocab, "vocab.txt"));
        }

        string? config = source.Config ?? FirstExisting(vocabDir, "tokenizer_config.json") ?? FirstExisting(beside, "tokenizer_config.json");
        if (config != null && !File.Exists(config)) throw new OnnxFormatException($"--tokenizer-config {Path.GetFullPath(config)}: file not found");
        if (config != null || source.LowerCase != null)
        {
            JsonObject json;
            try { json = config == null ? new JsonObject() : JsonNode.Parse(File.ReadAllText(config)) as JsonObject ?? throw new JsonException("not a JSON object"); }
            catch (JsonException e) { throw new OnnxFormatException($"{Path.GetFullPath(config!)}: not a valid tokenizer config ({e.Message})", e); }
            if (source.LowerCase is bool lower) json["do_lower_case"] = lower;
            files._configJson = json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
        }
        return files;
    }

    /// <summary>Loads the tokenizer the files make, from a scratch folder, without touching the destination.</summary>
    public ITextTokenizer Load()
    {
        string scratch = Path.Combine(Path.GetTempPath(), "fastprefix-tokenizer-" + Guid.NewGuid().ToString("N"));
        try
        {
            WriteTo(scratch);
            return TokenizerFactory.FromFolder(scratch);
        }
        finally
        {
            try { Directory.Delete(scratch, recursive: true); } catch (IOException) { }
        }
    }

    public void WriteTo(string folder)
    {
        Directory.CreateDirectory(folder);
        foreach (var (from, name) in _copies)
            AtomicFile.Write(Path.Combine(folder, name), s => { using var f = File.OpenRead(from); f.CopyTo(s); });
        if (_configJson != null) AtomicFile.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), _configJson);
    }

    static string? FirstExisting(string dir, params string[] names) =>
        names.Select(n => Path.Combine(dir, n)).FirstOrDefault(File.Exists);
}
