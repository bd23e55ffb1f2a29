namespace FastPrefix.Backends;

/// <summary>
/// Element type of a backend tensor. Float32 and Int32 are 4 bytes (a view may reinterpret one as the other);
/// BFloat16 is the compute type of a bf16 GPU backend (see <see cref="IBackend.ComputeType"/>). Host data is always
/// float or int: uploads and downloads of a BFloat16 tensor convert (round to nearest even).
/// </summary>
public enum TensorType { Float32, Int32, BFloat16 }

/// <summary>
/// A dense, contiguous, row-major buffer owned by one backend. Tensors are allocated once when a model plans its
/// buffers (activations, workspaces, parameters, the step's staging area) and reused: ops write into tensors given
/// to them. A view (<see cref="IBackend.View"/>) is a window on another tensor's memory; disposing it frees nothing.
/// </summary>
public abstract class Tensor : IDisposable
{
    protected Tensor(IBackend backend, TensorType type, int[] shape)
    {
        Backend = backend;
        Type = type;
        Shape = (int[])shape.Clone();
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"negative dimension in shape {ShapeText(shape)}");
            n = checked(n * d);
        }
        Length = n;
    }

    public IBackend Backend { get; }
    public TensorType Type { get; }
    public int[] Shape { get; }
    public long Length { get; }
    public int Rank => Shape.Length;
    public int Dim(int axis) => Shape[axis < 0 ? Shape.Length + axis : axis];
    /// <summary>True for a window on another tensor's memory.</summary>
    public abstract bool IsView { get; }

    public override string ToString() => $"{Type} {ShapeText(Shape)}";

    public static string ShapeText(IReadOnlyList<int> shape) => "[" + string.Join(", ", shape) + "]";

    /// <summary>Throws unless offset..offset+count lies inside the tensor (planning-time check of a view or an op's range).</summary>
    public void CheckRange(long offset, long count, string what)
    {
        if (offset < 0 || count < 0 || offset + count > Length)
            throw new ArgumentException($"{what}: {count} elements at offset {offset} exceed tensor {this}");
    }

    public abstract void Dispose();
}
