using System.Text.Json;
using FastPrefix.Adapters;
using FastPrefix.Backends;
using FastPrefix.Backends.Cpu;
using FastPrefix.IO;
using FastPrefix.Model;
using FastPrefix.Model.Heads;

namespace FastPrefix.Tests.Adapters;

/// <summary>Synthetic backbone folders, models with random trainable tensors, and batches for the adapter tests.</summary>
internal static class AdapterTestKit
{
    public static EncoderConfig Config(string type = "bert", int hidden = 12, int heads = 3, int layers = 3) => new()
    {
        ModelType = type, VocabSize = 30, HiddenSize = hidden, NumLayers = layers, NumHeads = heads, IntermediateSize = 20,
        MaxPositionEmbeddings = 40, TypeVocabSize = type == "roberta" ? 1 : 2, LayerNormEps = 1e-5f,
        HiddenDropout = 0.1f, AttentionDropout = 0.1f, PadTokenId = type == "roberta" ? 1 : 0,
    };

    /// <summary>Writes a Hugging Face style folder (config.json + model.safetensors) with synthetic weights.</summary>
    public static string WriteBackbone(string folder, EncoderConfig c, int seed = 5, string? namePrefix = null)
    {
        Directory.CreateDirectory(folder);
        var json = new Dictionary<string, object>
        {
            ["model_type"] = c.ModelType, ["vocab_size"] = c.VocabSize, ["hidden_size"] = c.HiddenSize,
            ["num_hidden_layers"] = c.NumLayers, ["num_attention_heads"] = c.NumHeads, ["intermediate_size"] = c.IntermediateSize,
            ["max_position_embeddings"] = c.MaxPositionEmbeddings, ["type_vocab_size"] = c.TypeVocabSize, ["layer_norm_eps"] = c.LayerNormEps,
            ["hidden_dropout_prob"] = c.HiddenDropout, ["attention_probs_dropout_prob"] = c.AttentionDropout,
            ["pad_token_id"] = c.PadTokenId, ["hidden_act"] = c.HiddenAct,
        };
        File.WriteAllText(ModelFolder.ConfigPath(folder), JsonSerializer.Serialize(json));
        var ckpt = new SyntheticCheckpoint(c, seed: seed, std: 0.3f, namePrefix: namePrefix ?? c.ModelType + ".");
        var entries = ckpt.Names.Order(StringComparer.Ordinal).Select(n => SafetensorsEntry.FromFloat32(n, ckpt.ReadFloat32(n), ckpt.GetShape(n))).ToList();
        SafetensorsWriter.Write(ModelFolder.WeightsPath(folder), entries);
        return folder;
    }

    /// <summary>A fresh encoder (own backend, own weights) loaded from a backbone folder.</summary>
    public static Encoder LoadEncoder(string folder)
    {
        var backend = new CpuBackend();
        return new Encoder(backend, ModelFolder.LoadWeights(backend, folder));
    }

    public static int DefaultLabels(TaskKind kind) => kind switch
    {
        TaskKind.SequenceClassification => 3,
        TaskKind.TokenClassification => 4,
        TaskKind.QuestionAnswering => 2,
        _ => 1,
    };

    public static PTuningModel NewModel(Encoder encoder, TaskKind kind, bool mlp = false, int firstLayer = 0,
        PositionMode positions = PositionMode.FromZero, int prefixLen = 4, int seed = 100)
    {
        var b = encoder.Backend; var c = encoder.Config;
        Prefix prefix = mlp ? new MlpPrefix(b, c, prefixLen, 7, firstLayer) : new PlainPrefix(b, c, prefixLen, firstLayer);
        var model = new PTuningModel(encoder, prefix, TaskHead.Create(kind, b, c, DefaultLabels(kind)), new PTuningOptions { Positions = positions });
        int i = 0;
        foreach (var p in model.Parameters) p.Upload(GradCheck.Random((int)p.Length, seed + i++, 0.5f));
        return model;
    }

    /// <summary>A batch with padding; multiple choice rows are 2 examples × 3 choices.</summary>
    public static TaskBatch Batch(EncoderConfig c, TaskKind kind, int seed = 3)
    {
        int B = kind == TaskKind.MultipleChoice ? 6 : 3, T = 6;
        var rng = new Random(seed);
        var ids = new int[B * T]; var mask = new int[B * T]; var types = new int[B * T];
        for (int r = 0; r < B; r++)
        {
            int len = T - r % 3;
            for (int t = 0; t < T; t++)
            {
                mask[r * T + t] = t < len ? 1 : 0;
                ids[r * T + t] = t < len ? rng.Next(2, c.VocabSize) : c.PadTokenId;
                types[r * T + t] = c.TypeVocabSize > 1 && t > len / 2 ? 1 : 0;
            }
        }
        return new TaskBatch { Inputs = new EncoderBatch(B, T, ids, mask, types), Choices = kind == TaskKind.MultipleChoice ? 3 : 1 };
    }

    public static float[] Logits(PTuningModel model, TaskKind kind) => model.Forward(Batch(model.Config, kind)).Logits;

    /// <summary>Rewrites a safetensors file with changed tensors and/or metadata (for malformed-file tests).</summary>
    public static void Rewrite(string source, string target,
        Func<string, (long[] Shape, float[] Data), (long[] Shape, float[] Data)?>? tensor = null,
        Action<Dictionary<string, string>>? metadata = null)
    {
        List<SafetensorsEntry> entries = [];
        Dictionary<string, string> meta;
        using (var file = SafetensorsFile.Open(source))
        {
            meta = new Dictionary<string, string>(file.Metadata);
            foreach (var info in file.Tensors)
            {
                (long[] Shape, float[] Data)? t = (info.Shape, file.ReadFloat32(info.Name));
                if (tensor != null) t = tensor(info.Name, t.Value);
                if (t is { } v) entries.Add(SafetensorsEntry.FromFloat32(info.Name, v.Data, v.Shape));
            }
        }
        metadata?.Invoke(meta);
        SafetensorsWriter.Write(target, entries, meta);
    }
}

/// <summary>A temporary folder removed after the test.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = TestPaths.NewTempDir();
    public string this[string name] => System.IO.Path.Combine(Path, name);
    public void Dispose() { try { Directory.Delete(Path, recursive: true); } catch (IOException) { } }
}
