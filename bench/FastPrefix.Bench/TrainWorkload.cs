using System.Text.Json;
using FastPrefix.IO;
using FastPrefix.Model;

namespace FastPrefix.Bench;

/// <summary>
/// `-- write-train-workload DIR [rows]`: the workload of the engine's CPU step/memory comparison (bench/RESULTS.md):
/// DIR/model, a random checkpoint of all-MiniLM-L6-v2's shape (6 layers, hidden 384, 12 heads, intermediate 1536,
/// vocab 30522 with bert-base-uncased's vocab.txt from the tokenizer fixture), and DIR/train.tsv, sentence pairs long
/// enough that every row fills 128 tokens. Random weights measure the same as the real model (same shapes, same ops).
/// </summary>
public static class TrainWorkload
{
    public static void Write(string dir, int rows)
    {
        rows = rows > 0 ? rows : 512;
        string model = Path.Combine(dir, "model");
        Directory.CreateDirectory(model);
        var config = new EncoderConfig
        {
            ModelType = "bert", VocabSize = 30522, HiddenSize = 384, NumLayers = 6, NumHeads = 12, IntermediateSize = 1536,
            MaxPositionEmbeddings = 512, TypeVocabSize = 2, LayerNormEps = 1e-12f, HiddenDropout = 0.1f, AttentionDropout = 0.1f,
        };
        File.WriteAllText(Path.Combine(model, "config.json"), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["model_type"] = "bert", ["vocab_size"] = 30522, ["hidden_size"] = 384, ["num_hidden_layers"] = 6, ["num_attention_heads"] = 12,
            ["intermediate_size"] = 1536, ["max_position_embeddings"] = 512, ["type_vocab_size"] = 2, ["layer_norm_eps"] = 1e-12,
            ["hidden_dropout_prob"] = 0.1, ["attention_probs_dropout_prob"] = 0.1, ["hidden_act"] = "gelu",
        }));
        var w = new SyntheticCheckpoint(config, seed: 1);
        SafetensorsWriter.Write(Path.Combine(model, "model.safetensors"), w.Names.Select(n => SafetensorsEntry.FromFloat32(n, w.ReadFloat32(n), w.GetShape(n))));
        string fixture = Path.Combine(FindRepoRoot(), "tests", "fixtures", "tokenizer-bert-base-uncased");
        File.Copy(Path.Combine(fixture, "vocab.txt"), Path.Combine(model, "vocab.txt"), overwrite: true);
        File.Copy(Path.Combine(fixture, "tokenizer_config.json"), Path.Combine(model, "tokenizer_config.json"), overwrite: true);

        var words = File.ReadLines(Path.Combine(model, "vocab.txt")).Skip(2000).Where(t => t.Length > 3 && t.All(char.IsAsciiLetterLower)).Take(5000).ToArray();
        var rng = new Random(3);
        string Sentence(int n) => string.Join(' ', Enumerable.Range(0, n).Select(_ => words[rng.Next(words.Length)]));
        using var tsv = new StreamWriter(Path.Combine(dir, "train.tsv"));
        tsv.WriteLine("sentence1\tsentence2\tlabel");
        for (int i = 0; i < rows; i++) tsv.WriteLine($"{Sentence(80)}\t{Sentence(80)}\t{(i % 2 == 0 ? "yes" : "no")}");
        Console.WriteLine($"wrote {model} (MiniLM-shaped random BERT) and {Path.Combine(dir, "train.tsv")} ({rows} rows of 160 words)");
    }

    static string FindRepoRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d != null && !File.Exists(Path.Combine(d.FullName, "FastPrefix.sln"))) d = d.Parent;
        return d?.FullName ?? throw new InvalidOperationException("FastPrefix.sln not found above " + AppContext.BaseDirectory);
    }
}
