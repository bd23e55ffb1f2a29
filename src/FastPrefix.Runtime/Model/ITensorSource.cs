namespace FastPrefix.Model;

/// <summary>Named float tensors to load weights from: a safetensors file, or generated weights.</summary>
public interface ITensorSource
{
    /// <summary>Where the tensors come from, for error messages (a file path).</summary>
    string SourceName { get; }
    IEnumerable<string> Names { get; }
    bool Contains(string name);
    long[] GetShape(string name);
    float[] ReadFloat32(string name);
}
