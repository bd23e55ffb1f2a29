using FastPrefix.Backends;

namespace FastPrefix.Model;

/// <summary>A trainable tensor with its gradient, as the optimiser and adapter files see it.</summary>
public sealed class Parameter : IDisposable
{
    public Parameter(IBackend backend, string name, int[] shape, bool decay = true)
    {
        Name = name;
        Value = backend.Zeros(shape);
        Grad = backend.Zeros(shape);
        WeightDecay = decay;
    }

    /// <summary>Name in adapter files, e.g. "prefix" or "head.weight".</summary>
    public string Name { get; }
    public Tensor Value { get; }
    public Tensor Grad { get; }
    /// <summary>Whether AdamW applies weight decay (biases and LayerNorm-like vectors usually not).</summary>
    public bool WeightDecay { get; }
    public int[] Shape => Value.Shape;
    public long Length => Value.Length;

    public float[] Download()
    {
        var data = new float[Length];
        Value.Backend.Download(Value, data);
        return data;
    }

    public float[] DownloadGrad()
    {
        var data = new float[Length];
        Grad.Backend.Download(Grad, data);
        return data;
    }

    public void Upload(ReadOnlySpan<float> data)
    {
        if (data.Length != Length) throw new ArgumentException($"parameter '{Name}' {Tensor.ShapeText(Shape)} needs {Length} values, got {data.Length}");
        Value.Backend.Upload(data, Value);
    }

    public void ZeroGrad() => Grad.Backend.Fill(Grad, 0);

    public void Dispose() { Value.Dispose(); Grad.Dispose(); }
}
