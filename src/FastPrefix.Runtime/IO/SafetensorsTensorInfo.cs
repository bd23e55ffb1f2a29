namespace FastPrefix.IO;

/// <summary>One tensor of a safetensors header, validated against its file.</summary>
public sealed class SafetensorsTensorInfo
{
    internal SafetensorsTensorInfo(string name, SafetensorsDType dtype, long[] shape, long dataStart, long dataEnd, long elementCount)
    {
        Name = name;
        DType = dtype;
        Shape = shape;
        DataStart = dataStart;
        DataEnd = dataEnd;
        ElementCount = elementCount;
        ByteLength = dataEnd - dataStart;
        ShapeText = FormatShape(shape);
    }

    public string Name { get; }

    public SafetensorsDType DType { get; }

    /// <summary>Dimensions, outermost first (row-major). Empty for a scalar. Do not modify.</summary>
    public long[] Shape { get; }

    /// <summary>Start of the tensor's bytes, relative to the start of the data buffer (as in the header).</summary>
    public long DataStart { get; }

    /// <summary>End (exclusive) of the tensor's bytes, relative to the start of the data buffer.</summary>
    public long DataEnd { get; }

    /// <summary>Product of the dimensions (1 for a scalar, 0 when a dimension is 0).</summary>
    public long ElementCount { get; }

    /// <summary><see cref="DataEnd"/> − <see cref="DataStart"/> = <see cref="ElementCount"/> × dtype size.</summary>
    public long ByteLength { get; }

    /// <summary>The shape as "[2, 3]"; "[]" for a scalar.</summary>
    public string ShapeText { get; }

    public override string ToString() => $"{Name} {SafetensorsDTypes.ToName(DType)} {ShapeText}";

    internal static string FormatShape(ReadOnlySpan<long> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    /// <summary>Product of <paramref name="shape"/>, or null if it does not fit in a long. Negative dims are the caller's to reject.</summary>
    internal static long? TryElementCount(ReadOnlySpan<long> shape)
    {
        foreach (var d in shape)
            if (d == 0) return 0;
        long n = 1;
        foreach (var d in shape)
        {
            if (d != 0 && n > long.MaxValue / d) return null;
            n *= d;
        }
        return n;
    }

    /// <summary>ElementCount × size in bytes, or null on overflow.</summary>
    internal static long? TryByteLength(long elementCount, SafetensorsDType dtype)
    {
        int size = SafetensorsDTypes.SizeOf(dtype);
        return elementCount > long.MaxValue / size ? null : elementCount * size;
    }
}
