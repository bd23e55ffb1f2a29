using FastPrefix.Adapters;
using FastPrefix.Data.Tokenization;
using FastPrefix.Model;
using FastPrefix.Model.Heads;
using FastPrefix.Tests.Adapters;

namespace FastPrefix.Tests.Onnx;

/// <summary>Adapters with random trained tensors saved for export, batches, and FastPrefix's own logits to compare with.</summary>
internal static class OnnxTestKit
{
    /// <summary>Builds a model with random prefix and head (as <see cref="AdapterTestKit.NewModel"/>), saves it as an adapter of the backbone folder and returns it.</summary>
    public static PTuningModel SaveAdapter(string path, string backbone, Encoder encoder, TaskKind kind, bool mlp = false, int firstLayer = 0,
        PositionMode positions = PositionMode.FromZero, int prefixLen = 4, int seed = 100)
    {
        var model = AdapterTestKit.NewModel(encoder, kind, mlp, firstLayer, positions, prefixLen, seed);
        AdapterFile.Save(path, model, AdapterMetadata.FromModel(model, baseModelFingerprint: BackboneFingerprint.OfFolder(backbone)));
        return model;
    }

    /// <summary>Texts encoded and padded into one batch.</summary>
    public static EncoderBatch Encode(ITextTokenizer tokenizer, string[] texts, int[]? rowAdapter = null)
    {
        var encoded = texts.Select(t => tokenizer.Encode(t)).ToArray();
        int B = encoded.Length, T = encoded.Max(e => e.Length);
        var ids = new int[B * T]; var mask = new int[B * T]; var types = new int[B * T];
        Array.Fill(ids, tokenizer.PadId);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < encoded[b].Length; t++)
            {
                ids[b * T + t] = encoded[b].InputIds[t]; mask[b * T + t] = 1; types[b * T + t] = encoded[b].TokenTypeIds?[t] ?? 0;
            }
        return new EncoderBatch(B, T, ids, mask, types, rowAdapter);
    }

    /// <summary>What a mixed batch must give: row r's logits are those of model rowAdapter[r] run alone.</summary>
    public static float[] MixedLogits(IReadOnlyList<PTuningModel> models, EncoderBatch batch, int choices = 1)
    {
        var plain = new EncoderBatch(batch.Batch, batch.Seq, batch.InputIds, batch.AttentionMask, batch.TokenTypeIds);
        var each = models.Select(m => m.Forward(new TaskBatch { Inputs = plain, Choices = choices }).Logits).ToList();
        int examples = batch.Batch / choices, perExample = each[0].Length / examples;
        var result = new float[each[0].Length];
        for (int e = 0; e < examples; e++)
            Array.Copy(each[batch.RowAdapter![e * choices]], e * perExample, result, e * perExample, perExample);
        return result;
    }
}
