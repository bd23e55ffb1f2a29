using FastPrefix.Model;

namespace FastPrefix.IO;

/// <summary>Weights for <see cref="EncoderWeights.Load"/> read from a safetensors file (any float dtype, converted to fp32).</summary>
public sealed class SafetensorsTensorSource(SafetensorsFile file) : ITensorSource
{
    public string SourceName => file.FilePath;
    public IEnumerable<string> Names => file.Tensors.Select(t => t.Name);
    public bool Contains(string name) => file.Contains(name);
    public long[] GetShape(string name) => file.GetInfo(name).Shape;
    public float[] ReadFloat32(string name) => file.ReadFloat32(name);
}
