using System.Globalization;
using System.Text.Json;
using FastPrefix.Data.Tokenization;
using FastPrefix.IO;
using FastPrefix.Model;

namespace FastPrefix.Onnx.Import;

/// <summary>What an import wrote.</summary>
public sealed record OnnxImportResult(string Folder, EncoderConfig Config, bool HasPooler, string TokenizerKind, IReadOnlyList<string> Files);

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

    public static OnnxImportResult Import(string onnxPath, string folder, TokenizerSource? tokenizer = null)
    {
        var encoder = ReadEncoder(onnxPath);
        Directory.CreateDirectory(folder);
        var files = new List<string>(TokenizerFiles.Copy(onnxPath, tokenizer ?? new TokenizerSource(), folder));
        var tok = TokenizerFactory.FromFolder(folder);
        var config = encoder.Config;
        if (tok.VocabSize > config.VocabSize)
            throw new OnnxFormatException($"{Path.GetFullPath(onnxPath)}: the tokenizer has ids up to {tok.VocabSize - 1} but the model's word embedding has {config.VocabSize} rows; wrong vocabulary?");
        if (config.ModelType == "bert") config = config with { PadTokenId = tok.PadId };
        else if (tok.PadId != config.PadTokenId)
            throw new OnnxFormatException($"{Path.GetFullPath(onnxPath)}: the graph numbers RoBERTa positions from padding index {config.PadTokenId} but the tokenizer's pad id is {tok.PadId}");

        AtomicFile.WriteAllText(ModelFolder.ConfigPath(folder), ConfigJson(config, Path.GetFileName(onnxPath)));
        SafetensorsWriter.Write(ModelFolder.WeightsPath(folder),
            encoder.Tensors.Select(t => SafetensorsEntry.FromFloat32(t.Name, t.Data, t.Shape)),
            new Dictionary<string, string> { ["format"] = "pt" });
        files.InsertRange(0, ["config.json", ModelFolder.WeightsFileName]);
        return new OnnxImportResult(Path.GetFullPath(folder), config, encoder.HasPooler, tok.Kind, files);
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
