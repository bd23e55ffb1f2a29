using Microsoft.ML.OnnxRuntime;

namespace FastPrefix.Tests.Onnx;

/// <summary>Runs an ONNX file in ONNX Runtime (CPU provider; its loader checks the model) and returns every output as floats.</summary>
internal static class OrtRunner
{
    public sealed record Input(string Name, long[] Data, long[] Shape);

    public static Dictionary<string, float[]> Run(string modelPath, params Input[] inputs)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        using var session = new InferenceSession(modelPath, options);
        var values = inputs.Select(i => OrtValue.CreateTensorValueFromMemory(i.Data, i.Shape)).ToList();
        try
        {
            using var run = new RunOptions();
            using var outputs = session.Run(run, inputs.Select(i => i.Name).ToArray(), values, session.OutputNames);
            return session.OutputNames.Select((name, k) => (name, outputs[k].GetTensorDataAsSpan<float>().ToArray())).ToDictionary(x => x.name, x => x.Item2);
        }
        finally { foreach (var v in values) v.Dispose(); }
    }

    /// <summary>input_ids, attention_mask, token_type_ids of an int batch, in the given shape.</summary>
    public static Input[] Tokens(int[] ids, int[] mask, int[] types, params long[] shape) =>
    [
        new("input_ids", Array.ConvertAll(ids, v => (long)v), shape),
        new("attention_mask", Array.ConvertAll(mask, v => (long)v), shape),
        new("token_type_ids", Array.ConvertAll(types, v => (long)v), shape),
    ];

    /// <summary>max|got - expected| / max(max|expected|, 1e-6), the fixtures' measure; NaN or infinity gives +∞.</summary>
    public static double RelativeError(ReadOnlySpan<float> got, ReadOnlySpan<float> expected)
    {
        Assert.Equal(expected.Length, got.Length);
        double err = 0, scale = 1e-6;
        for (int i = 0; i < got.Length; i++)
        {
            if (!float.IsFinite(got[i]) || !float.IsFinite(expected[i])) return double.PositiveInfinity;
            err = Math.Max(err, Math.Abs(got[i] - expected[i]));
            scale = Math.Max(scale, Math.Abs(expected[i]));
        }
        return err / scale;
    }

    /// <summary>QA logits as FastPrefix gives them, (rows, 2) interleaved start/end, from ONNX's two outputs.</summary>
    public static float[] Interleave(float[] start, float[] end)
    {
        var result = new float[start.Length * 2];
        for (int i = 0; i < start.Length; i++) { result[2 * i] = start[i]; result[2 * i + 1] = end[i]; }
        return result;
    }
}
