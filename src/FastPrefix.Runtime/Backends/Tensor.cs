namespace FastPrefix.Backends;

/// <summary>Element type of a backend tensor.</summary>
public enum TensorType { Float32, Int32 }

/// <summary>
/// A dense, contiguous, row-major buffer owned by one backend. Tensors are allocated once per
/// shape (activations, workspaces, parameters) and reused: ops write into tensors given to them.
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

    public override string ToString() => $"{Type} {ShapeText(Shape)}";

    public static string ShapeText(IReadOnlyList<int> shape) => "[" + string.Join(", ", shape) + "]";

    public abstract void Dispose();
}
