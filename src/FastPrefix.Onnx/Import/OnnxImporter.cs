using System.Globalization;
using System.Text.Json;
using FastPrefix.Data.Tokenization;
using FastPrefix.IO;
using FastPrefix.Model;

namespace FastPrefix.Onnx.Import;

/// <summary>What an import wrote.</summary>
public sealed record OnnxImportResult(string Folder, EncoderConfig Config, bool HasPooler, string TokenizerKind, IReadOnlyList<string> Files);

/// <summary>An ONNX encoder read, mapped and checked together with its tokenizer, ready to be written as a model folder.</summary>
public sealed class OnnxImport
{
    readonly ImportedEncoder _encoder;
    readonly TokenizerFiles _tokenizer;
    readonly string _source;

    internal OnnxImport(string source, ImportedEncoder encoder, EncoderConfig config, TokenizerFiles tokenizer, string tokenizerKind)
    {
        _source = source; _encoder = encoder; _tokenizer = tokenizer; Config = config; TokenizerKind = tokenizerKind;
    }

    public EncoderConfig Config { get; }
    public string TokenizerKind { get; }
    /// <summary>About what the folder will take on disk.</summary>
    public long Bytes => _encoder.Tensors.Sum(t => 4L * t.Data.Length) + _tokenizer.Bytes + (64 << 10);

    /// <summary>Writes config.json, model.safetensors and the tokenizer files (each atomically) into <paramref name="folder"/>.</summary>
    public OnnxImportResult WriteTo(string folder)
    {
        Directory.CreateDirectory(folder);
        _tokenizer.WriteTo(folder);
        AtomicFile.WriteAllText(ModelFolder.ConfigPath(folder), ConfigJson(Config, Path.GetFileName(_source)));
        SafetensorsWriter.Write(ModelFolder.WeightsPath(folder),
            _encoder.Tensors.Select(t => SafetensorsEntry.FromFloat32(t.Name, t.Data, t.Shape)),
            new Dictionary<string, string> { ["format"] = "pt" });
        return new OnnxImportResult(Path.GetFullPath(folder), Config, _encoder.HasPooler, TokenizerKind,
            ["config.json", ModelFolder.WeightsFileName, .. _tokenizer.Names]);
    }

    /// <summary>config.json as transformers writes it (dropout at the BERT defaults: an ONNX graph does not record them).</summary>
    static string ConfigJson(EncoderConfig c, string sourceName)
    {
        var json = new SortedDictionary<string, object>(StringComparer.Ordinal)
        {
            ["model_type"] = c.ModelType, ["architectures"] = new[] { c.IsRoberta ? "RobertaModel" : "BertModel" },
            ["vocab_size"] = c.VocabSize, ["hidden_size"] = c.HiddenSize, ["num_hidden_layers"] = c.NumLayers,
            ["num_attention_heads"] = c.NumHeads, ["intermediate_size"] = c.IntermediateSize,
            ["max_position_embeddings"] = c.MaxPositionEmbeddings, ["type_vocab_size"] = c.TypeVocabSize,
            // The float eps printed shortest (1e-12, not 9.99999996e-13), which reads back to the same float.
            ["layer_norm_eps"] = double.Parse(c.LayerNormEps.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture),
            ["hidden_act"] = c.HiddenAct, ["pad_token_id"] = c.PadTokenId,
            ["hidden_dropout_prob"] = 0.1, ["attention_probs_dropout_prob"] = 0.1,
            ["_fastprefix_imported_from"] = sourceName,
        };
        return JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }
}

/// <summary>
/// `fastprefix import onnx`: an ONNX export of a BERT/RoBERTa encoder → a Hugging Face model folder (config.json,
/// model.safetensors, tokenizer files) that every FastPrefix command loads.
/// </summary>
public static class OnnxImporter
{
    /// <summary>Reads the encoder out of the graph without writing anything.</summary>
    public static ImportedEncoder ReadEncoder(string onnxPath)
    {
        var model = OnnxModelFile.Read(onnxPath);
        return new EncoderGraphReader(new OnnxGraph(model, onnxPath)).Read();
    }

    /// <summary>Reads the encoder and its tokenizer and checks them against each other; nothing is written.</summary>
    public static OnnxImport Read(string onnxPath, TokenizerSource? tokenizer = null)
    {
        var encoder = ReadEncoder(onnxPath);
        var files = TokenizerFiles.Find(onnxPath, tokenizer ?? new TokenizerSource());
        var tok = files.Load();
        var config = encoder.Config;
        TokenizerFactory.CheckFits(tok, config, Path.GetFullPath(onnxPath));
        if (config.ModelType == "bert") config = config with { PadTokenId = tok.PadId };
        else if (tok.PadId != config.PadTokenId)
            throw new OnnxFormatException($"{Path.GetFullPath(onnxPath)}: the graph numbers RoBERTa positions from padding index {config.PadTokenId} but the tokenizer's pad id is {tok.PadId}");
        return new OnnxImport(onnxPath, encoder, config, files, tok.Kind);
    }

    public static OnnxImportResult Import(string onnxPath, string folder, TokenizerSource? tokenizer = null) =>
        Read(onnxPath, tokenizer).WriteTo(folder);
}
