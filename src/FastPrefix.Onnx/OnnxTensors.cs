using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FastPrefix.Onnx;

/// <summary>
/// TensorProto to host arrays and back: float32 and integer tensors held as raw_data (little-endian), as typed
/// fields, or in an external data file beside the model.
/// </summary>
public static class OnnxTensors
{
    public static string DataTypeName(int dataType) =>
        Enum.IsDefined(typeof(DataType), dataType) ? ((DataType)dataType).ToString().ToLowerInvariant() : $"data type {dataType}";

    /// <summary>
    /// The values of a float32 tensor. <paramref name="modelFolder"/> resolves external data; <paramref name="source"/>
    /// (the model file) prefixes errors, which name the tensor.
    /// </summary>
    public static float[] ReadFloats(TensorProto t, string modelFolder, string source)
    {
        if (t.DataType != (int)DataType.Float)
            throw new OnnxFormatException($"{source}: tensor '{t.Name}' is {DataTypeName(t.DataType)}; FastPrefix imports float32 weights only " +
                                          "(quantised and float16 exports are not supported: export the model in float32)");
        long count = ElementCount(t, source);
        if (t.FloatData.Count > 0) return Checked(t.FloatData.ToArray(), count, t, source);
        var bytes = RawBytes(t, modelFolder, source, count * sizeof(float));
        var result = new float[count];
        if (BitConverter.IsLittleEndian) bytes.CopyTo(MemoryMarshal.AsBytes(result.AsSpan()));   // ONNX stores raw data little-endian
        else for (int i = 0; i < result.Length; i++) result[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(i * 4, 4));
        return result;
    }

    /// <summary>The values of an int64 or int32 tensor (shape constants, axes, indices).</summary>
    public static long[] ReadInts(TensorProto t, string modelFolder, string source)
    {
        long count = ElementCount(t, source);
        switch ((DataType)t.DataType)
        {
            case DataType.Int64:
                if (t.Int64Data.Count > 0) return Checked(t.Int64Data.ToArray(), count, t, source);
                var b64 = RawBytes(t, modelFolder, source, count * sizeof(long));
                var r64 = new long[count];
                for (int i = 0; i < r64.Length; i++) r64[i] = BinaryPrimitives.ReadInt64LittleEndian(b64.Slice(i * 8, 8));
                return r64;
            case DataType.Int32:
                if (t.Int32Data.Count > 0) return Checked(t.Int32Data.Select(v => (long)v).ToArray(), count, t, source);
                var b32 = RawBytes(t, modelFolder, source, count * sizeof(int));
                var r32 = new long[count];
                for (int i = 0; i < r32.Length; i++) r32[i] = BinaryPrimitives.ReadInt32LittleEndian(b32.Slice(i * 4, 4));
                return r32;
            default:
                throw new OnnxFormatException($"{source}: tensor '{t.Name}' is {DataTypeName(t.DataType)}; expected int64 or int32 values");
        }
    }

    public static bool IsFloat(TensorProto t) => t.DataType == (int)DataType.Float;
    public static bool IsInteger(TensorProto t) => t.DataType is (int)DataType.Int64 or (int)DataType.Int32;

    /// <summary>[rows, cols] → [cols, rows]: MatMul stores linear weights as [in, out], Hugging Face as [out, in].</summary>
    public static float[] Transpose(float[] data, int rows, int cols)
    {
        var result = new float[data.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) result[(long)c * rows + r] = data[(long)r * cols + c];
        return result;
    }

    // ---- creation (export) ----

    public static TensorProto Float(string name, ReadOnlySpan<float> data, params long[] dims) => Raw(name, DataType.Float, data, dims);

    public static TensorProto Int64(string name, ReadOnlySpan<long> data, params long[] dims) => Raw(name, DataType.Int64, data, dims);

    static TensorProto Raw<T>(string name, DataType type, ReadOnlySpan<T> data, long[] dims) where T : unmanaged
    {
        CheckCount(name, data.Length, dims);
        var t = new TensorProto { Name = name, DataType = (int)type };
        t.Dims.AddRange(dims);
        t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(data));
        return t;
    }

    static void CheckCount(string name, int length, long[] dims)
    {
        long n = dims.Aggregate(1L, (a, d) => a * d);
        if (n != length) throw new ArgumentException($"tensor '{name}': {length} values for shape [{string.Join(", ", dims)}]");
    }

    static long ElementCount(TensorProto t, string source)
    {
        long n = 1;
        foreach (var d in t.Dims)
        {
            if (d < 0) throw new OnnxFormatException($"{source}: tensor '{t.Name}' has a negative dimension in [{string.Join(", ", t.Dims)}]");
            n = checked(n * d);
        }
        if (n > int.MaxValue) throw new OnnxFormatException($"{source}: tensor '{t.Name}' has {n} elements, more than one array can hold");
        return n;
    }

    static T[] Checked<T>(T[] values, long count, TensorProto t, string source) =>
        values.Length == count ? values
            : throw new OnnxFormatException($"{source}: tensor '{t.Name}' holds {values.Length} values but its shape [{string.Join(", ", t.Dims)}] needs {count}");

    /// <summary>raw_data, or the slice of the external file that holds the tensor.</summary>
    static ReadOnlySpan<byte> RawBytes(TensorProto t, string modelFolder, string source, long expected)
    {
        ReadOnlySpan<byte> bytes = t.DataLocation == TensorProto.Types.DataLocation.External
            ? ReadExternal(t, modelFolder, source, expected) : t.RawData.Span;
        if (bytes.Length != expected)
            throw new OnnxFormatException($"{source}: tensor '{t.Name}' has {bytes.Length} bytes of data but its shape [{string.Join(", ", t.Dims)}] " +
                                          $"and type {DataTypeName(t.DataType)} need {expected}");
        return bytes;
    }

    static byte[] ReadExternal(TensorProto t, string modelFolder, string source, long expected)
    {
        var entries = t.ExternalData.ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
        if (!entries.TryGetValue("location", out var location) || string.IsNullOrEmpty(location))
            throw new OnnxFormatException($"{source}: tensor '{t.Name}' is stored externally but names no 'location'");
        long offset = entries.TryGetValue("offset", out var o) ? ParseLong(o, "offset") : 0;
        long length = entries.TryGetValue("length", out var l) ? ParseLong(l, "length") : expected;
        string file = Path.GetFullPath(Path.Combine(modelFolder, location));
        if (!File.Exists(file))
            throw new OnnxFormatException($"{source}: tensor '{t.Name}' is stored in the external data file '{location}', which is not at {file}");
        using var stream = File.OpenRead(file);
        if (offset < 0 || length < 0 || offset + length > stream.Length)
            throw new OnnxFormatException($"{source}: tensor '{t.Name}' reads bytes {offset}..{offset + length} of '{location}', which has {stream.Length}");
        var bytes = new byte[length];
        stream.Position = offset;
        stream.ReadExactly(bytes);
        return bytes;

        long ParseLong(string s, string key) => long.TryParse(s, out long v) ? v
            : throw new OnnxFormatException($"{source}: tensor '{t.Name}' has external data {key} \"{s}\"; expected an integer");
    }
}
