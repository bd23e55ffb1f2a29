using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using FastPrefix.IO;

namespace FastPrefix.Tests.IO;

/// <summary>A temp folder per test and helpers to build safetensors files byte by byte.</summary>
public abstract class SafetensorsTestBase : IDisposable
{
    protected string Dir { get; } = TestPaths.NewTempDir();

    protected string PathOf(string fileName) => Path.Combine(Dir, fileName);

    /// <summary>Writes the raw bytes to a file in the temp folder and returns its path.</summary>
    protected string WriteRaw(string fileName, byte[] bytes)
    {
        var path = PathOf(fileName);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>u64 length of <paramref name="headerJson"/> (unpadded), the header, then <paramref name="dataLength"/> bytes 0, 1, 2, ...</summary>
    protected static byte[] Build(string headerJson, long dataLength)
    {
        var header = Encoding.UTF8.GetBytes(headerJson);
        var bytes = new byte[8 + header.Length + dataLength];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        for (long i = 0; i < dataLength; i++) bytes[8 + header.Length + i] = (byte)i;
        return bytes;
    }

    protected string WriteHeader(string fileName, string headerJson, long dataLength) =>
        WriteRaw(fileName, Build(headerJson, dataLength));

    /// <summary>Open must fail with a SafetensorsException naming the file, the tensor (or none) and each fragment.</summary>
    protected static SafetensorsException AssertOpenFails(string path, string? tensor, params string[] fragments)
    {
        var ex = Assert.Throws<SafetensorsException>(() => SafetensorsFile.Open(path));
        Assert.Equal(path, ex.FilePath);
        Assert.StartsWith(path + ": ", ex.Message);
        Assert.Equal(tensor, ex.TensorName);
        if (tensor != null) Assert.Contains($"tensor '{tensor}'", ex.Message);
        foreach (var f in fragments) Assert.Contains(f, ex.Message);
        return ex;
    }

    protected static byte[] Bytes<T>(params T[] values) where T : unmanaged => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    protected string WriteEntries(string fileName, params SafetensorsEntry[] entries)
    {
        var path = PathOf(fileName);
        SafetensorsWriter.Write(path, entries);
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); }
        catch (IOException) { }
        GC.SuppressFinalize(this);
    }
}

public sealed class SafetensorsReaderTests : SafetensorsTestBase
{
    [Fact]
    public void Fixture_TinyBert_OpensWithTheShapesOfItsConfig()
    {
        string TinyBert = TestPaths.Fixture("tiny-bert-a");
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(TinyBert, "config.json")));
        long Config(string key) => config.RootElement.GetProperty(key).GetInt64();
        long hidden = Config("hidden_size");

        using var file = SafetensorsFile.Open(Path.Combine(TinyBert, "model.safetensors"));

        Assert.Equal("pt", file.Metadata["format"]);
        Assert.All(file.Tensors, t => Assert.Equal(SafetensorsDType.F32, t.DType));
        Assert.All(file.Tensors, t => Assert.StartsWith("bert.", t.Name));
        var word = file.GetInfo("bert.embeddings.word_embeddings.weight");
        Assert.Equal([Config("vocab_size"), hidden], word.Shape);
        Assert.Equal($"[{Config("vocab_size")}, {hidden}]", word.ShapeText);
        Assert.Equal([Config("max_position_embeddings"), hidden], file.GetInfo("bert.embeddings.position_embeddings.weight").Shape);
        Assert.Equal([Config("type_vocab_size"), hidden], file.GetInfo("bert.embeddings.token_type_embeddings.weight").Shape);
        Assert.Equal([Config("intermediate_size"), hidden],
            file.GetInfo($"bert.encoder.layer.{Config("num_hidden_layers") - 1}.intermediate.dense.weight").Shape);
        Assert.False(file.Contains("embeddings.word_embeddings.weight"));

        // Sorted by offset and covering the data buffer exactly.
        long expected = 0;
        foreach (var t in file.Tensors)
        {
            Assert.Equal(expected, t.DataStart);
            expected = t.DataEnd;
        }
        Assert.Equal(new FileInfo(file.FilePath).Length, file.DataBufferOffset + expected);

        var values = file.ReadFloat32(word.Name);
        Assert.Equal(file.GetSpan<float>(word.Name).ToArray(), values);
        Assert.Contains(values, v => v != 0);
        Assert.All(values, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void Fixtures_EveryFileOfEveryFixtureFolderOpensAndReads()
    {
        var files = TestPaths.RequireFixturesWith("model.safetensors")
            .SelectMany(d => Directory.GetFiles(d, "*.safetensors")).Order(StringComparer.Ordinal).ToArray();
        Assert.NotEmpty(files);
        foreach (var path in files)
        {
            using var file = SafetensorsFile.Open(path);
            Assert.NotEmpty(file.Tensors);
            foreach (var t in file.Tensors)
            {
                var asDouble = file.ReadFloat64(t.Name);
                Assert.Equal(t.ElementCount, asDouble.Length);
                if (t.DType == SafetensorsDType.I64)
                    Assert.Equal(file.ReadInt64(t.Name).Select(v => (double)v), asDouble);
            }
        }
    }

    [Fact]
    public void GetSpan_IsAZeroCopyViewOfTheMapping()
    {
        var path = WriteEntries("a.safetensors",
            SafetensorsEntry.FromFloat32("a", [1f, 2f, 3f], 3),
            SafetensorsEntry.FromFloat32("b", [4f, 5f], 2));
        using var file = SafetensorsFile.Open(path);

        var first = file.GetSpan<float>("b");
        var second = file.GetSpan<float>("b");
        var bytes = file.GetBytes("b");
        var a = file.GetBytes("a");

        Assert.Equal([4f, 5f], first.ToArray());
        Assert.True(Unsafe.AreSame(ref MemoryMarshal.GetReference(first), ref MemoryMarshal.GetReference(second)));
        Assert.True(Unsafe.AreSame(ref Unsafe.As<float, byte>(ref MemoryMarshal.GetReference(first)), ref MemoryMarshal.GetReference(bytes)));
        // b follows a directly in the same mapping.
        Assert.True(Unsafe.AreSame(ref Unsafe.Add(ref MemoryMarshal.GetReference(a), 12), ref MemoryMarshal.GetReference(bytes)));
        Assert.Equal(8, bytes.Length);
    }

    [Fact]
    public void GetSpan_WithAnElementSizeOtherThanTheDtypes_ThrowsNamingTheTensor()
    {
        var path = WriteEntries("a.safetensors", SafetensorsEntry.FromBFloat16("w", [1f, 2f], 2));
        using var file = SafetensorsFile.Open(path);

        var ex = Assert.Throws<SafetensorsException>(() => file.GetSpan<float>("w").Length);
        Assert.Equal("w", ex.TensorName);
        Assert.Contains(path, ex.Message);
        Assert.Contains("tensor 'w'", ex.Message);
        Assert.Contains("BF16", ex.Message);
        Assert.Equal([0x3F80, 0x4000], file.GetSpan<ushort>("w").ToArray()); // same size: allowed
    }

    [Fact]
    public void GetInfo_OfAMissingTensor_ThrowsNamingFileAndTensor_WithAHint()
    {
        var path = WriteEntries("a.safetensors", SafetensorsEntry.FromFloat32("bert.pooler.dense.bias", [1f], 1));
        using var file = SafetensorsFile.Open(path);

        Assert.True(file.Contains("bert.pooler.dense.bias"));
        Assert.False(file.Contains("pooler.dense.bias"));
        var ex = Assert.Throws<SafetensorsException>(() => file.GetInfo("pooler.dense.bias"));
        Assert.StartsWith($"{path}: no tensor 'pooler.dense.bias'", ex.Message);
        Assert.Contains("did you mean 'bert.pooler.dense.bias'", ex.Message);
        Assert.Equal("pooler.dense.bias", ex.TensorName);
        Assert.Throws<SafetensorsException>(() => file.ReadFloat32("nope"));
        Assert.Throws<SafetensorsException>(() => file.GetBytes("nope").Length);
    }

    [Fact]
    public void ReadFloat32_IntoADestinationOfTheWrongLength_Throws()
    {
        var path = WriteEntries("a.safetensors", SafetensorsEntry.FromFloat32("w", [1f, 2f, 3f, 4f, 5f, 6f], 2, 3));
        using var file = SafetensorsFile.Open(path);

        var ex = Assert.Throws<ArgumentException>(() => file.ReadFloat32("w", new float[5]));
        Assert.Contains(path, ex.Message);
        Assert.Contains("tensor 'w'", ex.Message);
        Assert.Contains("[2, 3]", ex.Message);
        var ok = new float[6];
        file.ReadFloat32("w", ok);
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], ok);
    }

    [Fact]
    public void ReadFloat32_ConvertsBF16Exactly()
    {
        // Every bfloat16 value is a float32; 37 elements exercise the vector loop and its tail.
        float[] values = [0f, -0f, 1f, -2.5f, 0.15625f, 3.0e38f, -1.0e-38f, float.PositiveInfinity, float.NegativeInfinity, 256f, 1f / 3f];
        var exact = Enumerable.Range(0, 37).Select(i => BFloat16Conversions.ToSingle(BFloat16Conversions.FromSingle(values[i % values.Length] * (i + 1)))).ToArray();
        var bits = exact.Select(v => (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16)).ToArray();
        var path = WriteEntries("a.safetensors", new SafetensorsEntry("w", SafetensorsDType.BF16, [37], Bytes(bits)));
        using var file = SafetensorsFile.Open(path);

        var read = file.ReadFloat32("w");

        Assert.Equal(exact.Select(BitConverter.SingleToUInt32Bits), read.Select(BitConverter.SingleToUInt32Bits));
        Assert.Equal(0x8000_0000u, BitConverter.SingleToUInt32Bits(read[1])); // -0 keeps its sign
        Assert.Equal(file.ReadFloat64("w"), read.Select(v => (double)v));
    }

    [Fact]
    public void ReadFloat32_ConvertsF16Exactly()
    {
        Half[] halves = [(Half)0f, (Half)1f, (Half)(-2f), (Half)0.333251953125f, Half.MaxValue, Half.MinValue, Half.Epsilon,
            (Half)6.103515625e-05f, Half.PositiveInfinity, Half.NegativeInfinity, (Half)1024.5f, (Half)(-0.0001220703125f)];
        var path = WriteEntries("a.safetensors", new SafetensorsEntry("h", SafetensorsDType.F16, [3, 4], Bytes(halves)));
        using var file = SafetensorsFile.Open(path);

        var read = file.ReadFloat32("h");

        Assert.Equal(halves.Select(h => (float)h), read);
        Assert.Equal(65504f, read[4]);
        Assert.Equal(5.9604645e-08f, read[6]); // smallest subnormal
        Assert.Equal(halves.Select(h => (double)h), file.ReadFloat64("h"));
    }

    [Fact]
    public void ReadFloat32_ConvertsF64AndIntegerDtypesExactly()
    {
        var path = WriteEntries("a.safetensors",
            SafetensorsEntry.FromFloat64("f64", [0.5, -1.25, 16777216.0, 3.0517578125e-05, -0.0], 5),
            SafetensorsEntry.FromInt32("i32", [0, -1, 16777216, int.MinValue, 12345], 5),
            SafetensorsEntry.FromInt64("i64", [7, -8, 1L << 40], 3),
            new SafetensorsEntry("i16", SafetensorsDType.I16, [3], Bytes<short>(short.MinValue, -1, short.MaxValue)),
            new SafetensorsEntry("i8", SafetensorsDType.I8, [3], Bytes<sbyte>(-128, 0, 127)),
            new SafetensorsEntry("u8", SafetensorsDType.U8, [3], Bytes<byte>(0, 128, 255)),
            new SafetensorsEntry("bool", SafetensorsDType.BOOL, [3], Bytes<byte>(1, 0, 1)));
        using var file = SafetensorsFile.Open(path);

        Assert.Equal([0.5f, -1.25f, 16777216f, 3.0517578125e-05f, -0f], file.ReadFloat32("f64"));
        Assert.Equal([0f, -1f, 16777216f, -2147483648f, 12345f], file.ReadFloat32("i32"));
        Assert.Equal([7f, -8f, 1099511627776f], file.ReadFloat32("i64"));
        Assert.Equal([-32768f, -1f, 32767f], file.ReadFloat32("i16"));
        Assert.Equal([-128f, 0f, 127f], file.ReadFloat32("i8"));
        Assert.Equal([0f, 128f, 255f], file.ReadFloat32("u8"));
        Assert.Equal([1f, 0f, 1f], file.ReadFloat32("bool"));
        Assert.Equal([0.5, -1.25, 16777216.0, 3.0517578125e-05, -0.0], file.ReadFloat64("f64"));
        Assert.Equal([0.0, -1.0, 16777216.0, int.MinValue, 12345.0], file.ReadFloat64("i32"));
    }

    [Fact]
    public void ReadInt64_WidensIntegerAndBoolDtypes()
    {
        var path = WriteEntries("a.safetensors",
            SafetensorsEntry.FromInt64("i64", [long.MinValue, 0, long.MaxValue], 3),
            SafetensorsEntry.FromInt32("i32", [int.MinValue, -1, int.MaxValue], 3),
            new SafetensorsEntry("i16", SafetensorsDType.I16, [2], Bytes<short>(-5, 5)),
            new SafetensorsEntry("i8", SafetensorsDType.I8, [2], Bytes<sbyte>(-128, 127)),
            new SafetensorsEntry("u8", SafetensorsDType.U8, [2], Bytes<byte>(0, 255)),
            new SafetensorsEntry("bool", SafetensorsDType.BOOL, [2], Bytes<byte>(0, 1)));
        using var file = SafetensorsFile.Open(path);

        Assert.Equal([long.MinValue, 0, long.MaxValue], file.ReadInt64("i64"));
        Assert.Equal([int.MinValue, -1L, int.MaxValue], file.ReadInt64("i32"));
        Assert.Equal([-5L, 5L], file.ReadInt64("i16"));
        Assert.Equal([-128L, 127L], file.ReadInt64("i8"));
        Assert.Equal([0L, 255L], file.ReadInt64("u8"));
        Assert.Equal([0L, 1L], file.ReadInt64("bool"));
    }

    [Fact]
    public void ReadInt64_OfAFloatDtype_ThrowsNamingTheTensor()
    {
        var path = WriteEntries("a.safetensors", SafetensorsEntry.FromFloat32("logits", [1f], 1));
        using var file = SafetensorsFile.Open(path);

        var ex = Assert.Throws<SafetensorsException>(() => file.ReadInt64("logits"));
        Assert.Equal($"{path}: tensor 'logits': has dtype F32; ReadInt64 reads integer dtypes (I64, I32, I16, I8, U8, BOOL); use ReadFloat32 or ReadFloat64", ex.Message);
        Assert.Equal("logits", ex.TensorName);
    }

    [Fact]
    public void Dispose_ReleasesTheFile_AndLaterReadsThrow()
    {
        var path = WriteEntries("a.safetensors", SafetensorsEntry.FromFloat32("w", [1f, 2f], 2));
        var file = SafetensorsFile.Open(path);
        Assert.Equal([1f, 2f], file.ReadFloat32("w"));
        Assert.Throws<IOException>(() => new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None).Dispose());

        file.Dispose();
        file.Dispose(); // twice is fine

        Assert.Throws<ObjectDisposedException>(() => file.GetBytes("w").Length);
        Assert.Throws<ObjectDisposedException>(() => file.ReadFloat32("w"));
        Assert.Equal([2L], file.GetInfo("w").Shape); // the header stays readable
        // Nothing holds the file any more: it can be opened exclusively, then deleted.
        using (new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None)) { }
        File.Delete(path);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void AnOpenFile_KeepsItsContent_WhenTheWriterReplacesIt()
    {
        var path = WriteEntries("a.safetensors", SafetensorsEntry.FromFloat32("w", [1f, 2f], 2));
        using var old = SafetensorsFile.Open(path);

        SafetensorsWriter.Write(path, [SafetensorsEntry.FromFloat32("w", [7f, 8f, 9f], 3)]);

        Assert.Equal([1f, 2f], old.ReadFloat32("w"));
        using var fresh = SafetensorsFile.Open(path);
        Assert.Equal([7f, 8f, 9f], fresh.ReadFloat32("w"));
    }

    [Fact]
    public void HandWrittenHeader_InAnyOrder_Unpadded_WithUnknownFields_ReadsCorrectly()
    {
        // Header of odd length, so the data is not aligned; listed out of offset order; an extra field.
        const string header = """{"z":{"dtype":"F32","shape":[2],"data_offsets":[4,12],"note":[1,{"x":null}]},"a":{"dtype":"I32","shape":[],"data_offsets":[0,4]}}""";
        Assert.NotEqual(0, Encoding.UTF8.GetByteCount(header) % 4);
        var bytes = Build(header, 12);
        int data = bytes.Length - 12;
        BitConverter.TryWriteBytes(bytes.AsSpan(data), -7);
        BitConverter.TryWriteBytes(bytes.AsSpan(data + 4), 1.5f);
        BitConverter.TryWriteBytes(bytes.AsSpan(data + 8), -2.25f);
        var path = WriteRaw("a.safetensors", bytes);

        using var file = SafetensorsFile.Open(path);

        Assert.Equal(["a", "z"], file.Tensors.Select(t => t.Name));
        Assert.Equal(data, file.DataBufferOffset);
        Assert.Equal([-7L], file.ReadInt64("a"));
        Assert.Equal([1.5f, -2.25f], file.ReadFloat32("z"));
        Assert.Equal([1.5f, -2.25f], file.GetSpan<float>("z").ToArray());
        Assert.Empty(file.Metadata);
    }
}
