using System.Text.Json;
using FastPrefix.IO;
using FastPrefix.Model;

namespace FastPrefix.Tests.Cli;

/// <summary>
/// A Hugging Face-style model folder for CLI tests: the first BERT fixture's config.json and model.safetensors
/// (a synthetic BERT when no fixture is BERT) plus a vocab.txt of exactly vocab_size words written here.
/// </summary>
public static class CliModelFolder
{
    public static readonly string[] Words =
        ["good", "bad", "great", "awful", "the", "a", "film", "book", "is", "was", "paris", "london", "john", "mary", "lives", "in",
         "where", "who", "does", "?", ".", ",", "it", "rain", "sun", "because", "so", "wet", "warm", "ground", "sky", "and"];

    /// <param name="fixtureName">A named model fixture (skips the test when FASTPREFIX_FIXTURES lacks it); default: the first BERT one.</param>
    public static string Create(string? fixtureName = null)
    {
        string dir = TestPaths.NewTempDir();
        string? fixture = fixtureName != null ? TestPaths.Fixture(fixtureName) : TestPaths.FixtureFoldersWith("model.safetensors")
            .FirstOrDefault(f => EncoderConfig.Load(Path.Combine(f, "config.json")).ModelType == "bert");
        EncoderConfig config;
        if (fixture != null)
        {
            File.Copy(Path.Combine(fixture, "config.json"), Path.Combine(dir, "config.json"));
            File.Copy(Path.Combine(fixture, "model.safetensors"), Path.Combine(dir, "model.safetensors"));
            config = EncoderConfig.Load(Path.Combine(dir, "config.json"));
        }
        else
        {
            config = new EncoderConfig { ModelType = "bert", VocabSize = 100, HiddenSize = 32, NumLayers = 2, NumHeads = 4, IntermediateSize = 64, MaxPositionEmbeddings = 64, HiddenDropout = 0, AttentionDropout = 0 };
            File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["model_type"] = "bert", ["vocab_size"] = 100, ["hidden_size"] = 32, ["num_hidden_layers"] = 2, ["num_attention_heads"] = 4,
                ["intermediate_size"] = 64, ["max_position_embeddings"] = 64, ["hidden_dropout_prob"] = 0.0, ["attention_probs_dropout_prob"] = 0.0,
            }));
            var w = new SyntheticCheckpoint(config, seed: 3, std: 0.3f);
            SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"), w.Names.Select(n => SafetensorsEntry.FromFloat32(n, w.ReadFloat32(n), w.GetShape(n))));
        }
        var vocab = new List<string> { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" };
        vocab.AddRange(Words);
        for (int i = 0; vocab.Count < config.VocabSize; i++) vocab.Add("w" + i);
        File.WriteAllLines(Path.Combine(dir, "vocab.txt"), vocab.Take(config.VocabSize));
        return dir;
    }

    /// <summary>Max sequence length the fixture's position table allows, capped at 24.</summary>
    public static int MaxLen(string dir) => Math.Min(24, EncoderConfig.Load(Path.Combine(dir, "config.json")).MaxPositionEmbeddings - 4);
}
