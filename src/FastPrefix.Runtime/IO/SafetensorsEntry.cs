using System.Runtime.InteropServices;

namespace FastPrefix.IO;

/// <summary>
/// One tensor to write: name, dtype, shape and little-endian bytes. The factories copy their
/// input and check that it matches the shape; the constructor takes raw bytes as they are and
/// leaves every check to <see cref="SafetensorsWriter"/>, which names the file and the tensor.
/// </summary>
public sealed class SafetensorsEntry
{
    /// <summary>Raw entry; <paramref name="data"/> is not copied. Checked when written.</summary>
    public SafetensorsEntry(string name, SafetensorsDType dtype, long[] shape, ReadOnlyMemory<byte> data)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        Name = name;
        DType = dtype;
        Shape = shape;
        Data = data;
    }

    public string Name { get; }

    public SafetensorsDType DType { get; }

    /// <summary>Dimensions, outermost first; empty for a scalar.</summary>
    public long[] Shape { get; }

    /// <summary>The tensor's bytes, little-endian, row-major.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    public override string ToString() => $"{Name} {SafetensorsDTypes.ToName(DType)} {SafetensorsTensorInfo.FormatShape(Shape)}";

    public static SafetensorsEntry FromFloat32(string name, ReadOnlySpan<float> data, params long[] shape) =>
        Copy(name, SafetensorsDType.F32, data, shape);

    public static SafetensorsEntry FromFloat64(string name, ReadOnlySpan<double> data, params long[] shape) =>
        Copy(name, SafetensorsDType.F64, data, shape);

    public static SafetensorsEntry FromInt64(string name, ReadOnlySpan<long> data, params long[] shape) =>
        Copy(name, SafetensorsDType.I64, data, shape);

    public static SafetensorsEntry FromInt32(string name, ReadOnlySpan<int> data, params long[] shape) =>
        Copy(name, SafetensorsDType.I32, data, shape);

    /// <summary>Stores float32 values as bfloat16, rounding to nearest even.</summary>
    public static SafetensorsEntry FromBFloat16(string name, ReadOnlySpan<float> data, params long[] shape)
    {
        CheckShape(name, SafetensorsDType.BF16, data.Length, shape);
        var bytes = new byte[checked(data.Length * 2)];
        BFloat16Conversions.FromSingle(data, MemoryMarshal.Cast<byte, ushort>(bytes.AsSpan()));
        return new SafetensorsEntry(name, SafetensorsDType.BF16, (long[])shape.Clone(), bytes);
    }

    /// <summary>Stores float32 values as IEEE half, rounding to nearest even (overflow gives ±Inf).</summary>
    public static SafetensorsEntry FromFloat16(string name, ReadOnlySpan<float> data, params long[] shape)
    {
        CheckShape(name, SafetensorsDType.F16, data.Length, shape);
        var bytes = new byte[checked(data.Length * 2)];
        System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(data, MemoryMarshal.Cast<byte, Half>(bytes.AsSpan()));
        return new SafetensorsEntry(name, SafetensorsDType.F16, (long[])shape.Clone(), bytes);
    }

    static SafetensorsEntry Copy<T>(string name, SafetensorsDType dtype, ReadOnlySpan<T> data, long[] shape) where T : unmanaged
    {
        CheckShape(name, dtype, data.Length, shape);
        return new SafetensorsEntry(name, dtype, (long[])shape.Clone(), MemoryMarshal.AsBytes(data).ToArray());
    }

    static void CheckShape(string name, SafetensorsDType dtype, int length, long[] shape)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        var text = SafetensorsTensorInfo.FormatShape(shape);
        foreach (var d in shape)
            if (d < 0) throw new ArgumentException($"tensor '{name}': shape {text} has a negative dimension", nameof(shape));
        var count = SafetensorsTensorInfo.TryElementCount(shape);
        if (count != length)
            throw new ArgumentException(
                $"tensor '{name}': shape {text} holds {count?.ToString() ?? "more than 2^63"} {SafetensorsDTypes.ToName(dtype)} elements but {length} were given"
                + (shape.Length == 0 && length != 1 ? " (no shape given means a scalar; pass the dimensions)" : ""),
                "data");
    }
}
