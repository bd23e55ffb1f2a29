using System.Text.Json;
using FastPrefix.IO;
using FastPrefix.Model;

namespace FastPrefix.Cli.Demo;

/// <summary>
/// Everything `fastprefix demo` needs, made on the spot and deterministic: a small random BERT written as a
/// Hugging Face checkpoint folder (config.json, model.safetensors, vocab.txt) and a built-in sentiment task —
/// short product reviews whose label is carried by one opinion word among distractors.
/// </summary>
internal static class DemoWorld
{
    static readonly string[] Specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
    static readonly string[] Positive = ["great", "excellent", "wonderful", "superb", "lovely", "fantastic", "good", "brilliant"];
    static readonly string[] Negative = ["awful", "terrible", "dreadful", "poor", "horrible", "bad", "boring", "broken"];
    static readonly string[] Nouns = ["film", "phone", "book", "meal", "hotel", "game", "song", "camera", "laptop", "show"];
    static readonly string[] Fillers = ["the", "a", "this", "that", "was", "is", "really", "quite", "very", "honestly", "and", "it", "my", "our", "felt", "looked", "overall", "today", "again", "so", "."];

    public static readonly IReadOnlyList<string> Vocabulary = [.. Specials, .. Positive, .. Negative, .. Nouns, .. Fillers.Distinct()];

    public static EncoderConfig Config => new()
    {
        ModelType = "bert", VocabSize = Vocabulary.Count, HiddenSize = 64, NumLayers = 4, NumHeads = 4, IntermediateSize = 256,
        MaxPositionEmbeddings = 64, TypeVocabSize = 2, LayerNormEps = 1e-12f, HiddenDropout = 0f, AttentionDropout = 0f, PadTokenId = 0, // a random backbone drowns its weak signal in dropout noise
    };

    /// <summary>Writes the backbone folder: config.json, model.safetensors (random weights, seed 2022) and vocab.txt.</summary>
    public static void WriteBackbone(string folder)
    {
        Directory.CreateDirectory(folder);
        var c = Config;
        var config = new SortedDictionary<string, object>
        {
            ["model_type"] = c.ModelType, ["architectures"] = new[] { "BertModel" }, ["vocab_size"] = c.VocabSize, ["hidden_size"] = c.HiddenSize,
            ["num_hidden_layers"] = c.NumLayers, ["num_attention_heads"] = c.NumHeads, ["intermediate_size"] = c.IntermediateSize,
            ["max_position_embeddings"] = c.MaxPositionEmbeddings, ["type_vocab_size"] = c.TypeVocabSize, ["layer_norm_eps"] = c.LayerNormEps,
            ["hidden_dropout_prob"] = c.HiddenDropout, ["attention_probs_dropout_prob"] = c.AttentionDropout, ["pad_token_id"] = 0, ["hidden_act"] = "gelu",
            ["_comment"] = "FastPrefix demo backbone: random weights, not a pretrained model",
        };
        AtomicFile.WriteAllText(Path.Combine(folder, "config.json"), JsonSerializer.Serialize(config, new JsonSerializerOptions { WriteIndented = true }));
        var weights = new SyntheticCheckpoint(c, seed: 2022, std: 0.2f, namePrefix: "bert.");
        SafetensorsWriter.Write(Path.Combine(folder, ModelFolder.WeightsFileName),
            weights.Names.Order(StringComparer.Ordinal).Select(n => SafetensorsEntry.FromFloat32(n, weights.ReadFloat32(n), weights.GetShape(n))),
            new Dictionary<string, string> { ["format"] = "pt" });
        AtomicFile.WriteAllText(Path.Combine(folder, "vocab.txt"), string.Join("\n", Vocabulary) + "\n");
        AtomicFile.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), "{\"do_lower_case\": true}\n");
    }

    /// <summary>A review: fillers around a noun and one opinion word; the label is the opinion's polarity.</summary>
    public static (string Text, string Label) Review(Random rng)
    {
        bool positive = rng.Next(2) == 0;
        var words = new List<string>();
        int before = rng.Next(1, 5), after = rng.Next(0, 4);
        for (int i = 0; i < before; i++) words.Add(Fillers[rng.Next(Fillers.Length)]);
        words.Add(Nouns[rng.Next(Nouns.Length)]);
        words.Add(Fillers[rng.Next(Fillers.Length)]);
        words.Add((positive ? Positive : Negative)[rng.Next(8)]);
        for (int i = 0; i < after; i++) words.Add(Fillers[rng.Next(Fillers.Length)]);
        return (string.Join(' ', words), positive ? "positive" : "negative");
    }

    public static void WriteDataset(string path, int count, int seed)
    {
        var rng = new Random(seed);
        var lines = Enumerable.Range(0, count).Select(_ => Review(rng)).Select(r => JsonSerializer.Serialize(new { sentence = r.Text, label = r.Label }));
        AtomicFile.WriteAllText(path, string.Join("\n", lines) + "\n");
    }
}
