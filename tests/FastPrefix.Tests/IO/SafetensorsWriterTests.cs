using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using FastPrefix.IO;

namespace FastPrefix.Tests.IO;

public sealed class SafetensorsWriterTests : SafetensorsTestBase
{
    [Fact]
    public void EveryDtype_RoundTrips_WithShapeAndBytes()
    {
        var random = new Random(5);
        var entries = SafetensorsDTypes.All.Select((t, i) =>
        {
            long[] shape = [2, i + 1];
            var data = new byte[2 * (i + 1) * SafetensorsDTypes.SizeOf(t)];
            random.NextBytes(data);
            if (t == SafetensorsDType.BOOL) data = data.Select(b => (byte)(b & 1)).ToArray();
            return new SafetensorsEntry("t." + SafetensorsDTypes.ToName(t), t, shape, data);
        }).ToArray();
        var path = WriteEntries("all.safetensors", entries);

        using var file = SafetensorsFile.Open(path);

        Assert.Equal(entries.Length, file.Tensors.Count);
        foreach (var e in entries)
        {
            var info = file.GetInfo(e.Name);
            Assert.Equal(e.DType, info.DType);
            Assert.Equal(e.Shape, info.Shape);
            Assert.Equal(e.Shape[0] * e.Shape[1], info.ElementCount);
            Assert.Equal(e.Data.Length, info.ByteLength);
            Assert.Equal(e.Data.ToArray(), file.GetBytes(e.Name).ToArray());
        }
    }

    [Fact]
    public void ScalarsAndZeroSizeTensors_RoundTrip()
    {
        var path = WriteEntries("a.safetensors",
            SafetensorsEntry.FromFloat32("empty.first", [], 0),
            SafetensorsEntry.FromFloat64("loss", [0.25]),
            SafetensorsEntry.FromFloat32("empty.middle", [], 2, 0, 3),
            SafetensorsEntry.FromInt64("step", [42]),
            SafetensorsEntry.FromBFloat16("empty.last", [], 0, 4));

        using var file = SafetensorsFile.Open(path);

        var loss = file.GetInfo("loss");
        Assert.Empty(loss.Shape);
        Assert.Equal("[]", loss.ShapeText);
        Assert.Equal(1, loss.ElementCount);
        Assert.Equal([0.25], file.ReadFloat64("loss"));
        Assert.Equal([42L], file.ReadInt64("step"));
        var middle = file.GetInfo("empty.middle");
        Assert.Equal("[2, 0, 3]", middle.ShapeText);
        Assert.Equal(0, middle.ElementCount);
        Assert.Equal(0, middle.ByteLength);
        Assert.Equal(0, file.GetBytes("empty.middle").Length);
        Assert.Empty(file.ReadFloat32("empty.middle"));
        Assert.Empty(file.ReadFloat32("empty.last"));
        Assert.Equal(8 + 8, file.GetInfo("empty.last").DataStart); // at the very end of the file
        Assert.Equal(file.DataBufferOffset + 16, new FileInfo(path).Length);
    }

    [Fact]
    public void NoTensors_GivesTheMinimalFile_WithAnEmptyDataBuffer()
    {
        var bytes = SafetensorsWriter.ToBytes([]);

        Assert.Equal([8, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'}', 32, 32, 32, 32, 32, 32], bytes);
        var path = PathOf("empty.safetensors");
        SafetensorsWriter.Write(path, []);
        Assert.Equal(bytes, File.ReadAllBytes(path));
        using var file = SafetensorsFile.Open(path);
        Assert.Empty(file.Tensors);
        Assert.Empty(file.Metadata);
        Assert.Equal(16, file.DataBufferOffset);
    }

    [Fact]
    public void Metadata_RoundTrips_IncludingCharactersThatNeedEscaping()
    {
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["note"] = "quote \" backslash \\ newline \n tab \t <html> & 'x' + é ✓ 𝔽",
            ["empty"] = "",
        };
        var path = PathOf("m.safetensors");
        SafetensorsWriter.Write(path, [SafetensorsEntry.FromFloat32("w", [1f], 1)], metadata);

        using var file = SafetensorsFile.Open(path);

        Assert.Equal(metadata.OrderBy(p => p.Key), file.Metadata.OrderBy(p => p.Key));
        // Written as UTF-8, not \u escapes, and '<', '&', '+' as they are: the header stays readable.
        // (System.Text.Json still escapes characters outside the BMP, such as 𝔽; that is valid JSON.)
        var header = Encoding.UTF8.GetString(File.ReadAllBytes(path), 8, (int)file.HeaderLength);
        Assert.Contains("<html> & 'x' + é ✓", header);
        Assert.StartsWith("""{"__metadata__":{"empty":"","format":"pt","note":""", header);
    }

    [Fact]
    public void ToBytes_MatchesTheReferenceImplementationByteForByte()
    {
        // Expected bytes as the Rust reference (huggingface/safetensors) serialises these inputs.
        var attn = SafetensorsWriter.ToBytes([SafetensorsEntry.FromFloat32("attn.0", [0f, 1f, 2f, 3f, 4f, 5f], 1, 2, 3)]);
        var json = """{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}""";
        byte[] expected = [64, 0, 0, 0, 0, 0, 0, 0, .. Encoding.ASCII.GetBytes(json), .. Bytes(0f, 1f, 2f, 3f, 4f, 5f)];
        Assert.Equal(expected, attn);

        var meta = SafetensorsWriter.ToBytes([], new Dictionary<string, string> { ["framework"] = "pt" });
        Assert.Equal([40, 0, 0, 0, 0, 0, 0, 0, .. Encoding.ASCII.GetBytes("""{"__metadata__":{"framework":"pt"}}     """)], meta);
    }

    [Fact]
    public void Header_IsPaddedWithSpacesToAMultipleOf8()
    {
        for (int nameLength = 1; nameLength <= 9; nameLength++)
        {
            var bytes = SafetensorsWriter.ToBytes([SafetensorsEntry.FromFloat32(new string('n', nameLength), [1f], 1)]);
            long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            Assert.Equal(0, n % 8);
            var header = Encoding.UTF8.GetString(bytes, 8, (int)n);
            var json = header.TrimEnd(' ');
            Assert.EndsWith("}", json);
            Assert.True(header.Length - json.Length < 8);
            Assert.Equal(8 + n + 4, bytes.Length);
        }
    }

    [Fact]
    public void Write_KeepsTheGivenOrder_WithContiguousOffsets()
    {
        var bytes = SafetensorsWriter.ToBytes([
            SafetensorsEntry.FromInt32("zeta", [1, 2, 3], 3),
            SafetensorsEntry.FromFloat64("alpha", [1.0], 1),
            new SafetensorsEntry("mid", SafetensorsDType.U8, [5], new byte[5]),
            SafetensorsEntry.FromFloat16("beta", [1f, 2f], 2),
        ]);
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        using var header = JsonDocument.Parse(bytes.AsMemory(8, (int)n));

        var order = header.RootElement.EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Equal(["zeta", "alpha", "mid", "beta"], order);
        var offsets = order.Select(name => header.RootElement.GetProperty(name).GetProperty("data_offsets")
            .EnumerateArray().Select(v => v.GetInt64()).ToArray()).ToArray();
        Assert.Equal([[0L, 12L], [12L, 20L], [20L, 25L], [25L, 29L]], offsets);
        Assert.Equal(8 + n + 29, bytes.Length);
    }

    [Fact]
    public void Output_IsDeterministic()
    {
        SafetensorsEntry[] Entries() =>
        [
            SafetensorsEntry.FromFloat32("w", [0.1f, -0.2f, 3f], 3),
            SafetensorsEntry.FromBFloat16("b", [0.1f, 1e30f], 2),
            SafetensorsEntry.FromInt64("ids", [1, 2], 1, 2),
        ];
        var metaA = new Dictionary<string, string> { ["b"] = "2", ["a"] = "1", ["B"] = "3" };
        var metaB = new Dictionary<string, string> { ["a"] = "1", ["B"] = "3", ["b"] = "2" };

        var first = SafetensorsWriter.ToBytes(Entries(), metaA);
        var second = SafetensorsWriter.ToBytes(Entries(), metaB);
        var path = PathOf("d.safetensors");
        SafetensorsWriter.Write(path, Entries(), metaA);

        Assert.Equal(first, second);
        Assert.Equal(first, File.ReadAllBytes(path));
        Assert.Contains("""{"__metadata__":{"B":"3","a":"1","b":"2"},""", Encoding.UTF8.GetString(first));
    }

    [Fact]
    public void DuplicateNames_AreAnError_AndNoFileIsWritten()
    {
        var path = PathOf("dup.safetensors");
        var ex = Assert.Throws<SafetensorsException>(() => SafetensorsWriter.Write(path,
            [SafetensorsEntry.FromFloat32("w", [1f], 1), SafetensorsEntry.FromFloat32("v", [1f], 1), SafetensorsEntry.FromFloat32("w", [2f], 1)]));

        Assert.Equal(path, ex.FilePath);
        Assert.Equal("w", ex.TensorName);
        Assert.StartsWith($"{path}: tensor 'w': duplicate", ex.Message);
        Assert.Empty(Directory.GetFileSystemEntries(Dir));
    }

    [Fact]
    public void DataLengthThatDoesNotMatchShapeTimesDtypeSize_IsAnError()
    {
        var path = PathOf("len.safetensors");
        var ex = Assert.Throws<SafetensorsException>(() => SafetensorsWriter.Write(path,
            [new SafetensorsEntry("w", SafetensorsDType.F32, [2, 3], new byte[20])]));

        Assert.Equal("w", ex.TensorName);
        Assert.Equal($"{path}: tensor 'w': shape [2, 3] × F32 (4 bytes) needs 24 bytes, but the data has 20", ex.Message);
        Assert.Empty(Directory.GetFileSystemEntries(Dir));
        var inMemory = Assert.Throws<SafetensorsException>(() => SafetensorsWriter.ToBytes([new SafetensorsEntry("w", SafetensorsDType.F32, [2, 3], new byte[20])]));
        Assert.Equal(SafetensorsWriter.InMemoryPath, inMemory.FilePath);
    }

    [Fact]
    public void NegativeDimensions_AreAnError()
    {
        var path = PathOf("neg.safetensors");
        var ex = Assert.Throws<SafetensorsException>(() => SafetensorsWriter.Write(path,
            [new SafetensorsEntry("w", SafetensorsDType.F32, [2, -3], ReadOnlyMemory<byte>.Empty)]));

        Assert.Equal("w", ex.TensorName);
        Assert.Contains(path, ex.Message);
        Assert.Contains("dimension 1 is -3", ex.Message);
        Assert.Empty(Directory.GetFileSystemEntries(Dir));
    }

    [Fact]
    public void TheReservedMetadataKey_CannotNameATensor()
    {
        var ex = Assert.Throws<SafetensorsException>(() => SafetensorsWriter.ToBytes([SafetensorsEntry.FromFloat32("__metadata__", [1f], 1)]));

        Assert.Equal("__metadata__", ex.TensorName);
        Assert.Contains("reserved", ex.Message);
    }

    [Fact]
    public void AFailedWrite_LeavesTheExistingFileAsItWas()
    {
        var path = WriteEntries("keep.safetensors", SafetensorsEntry.FromFloat32("w", [1f], 1));
        var before = File.ReadAllBytes(path);

        Assert.Throws<SafetensorsException>(() => SafetensorsWriter.Write(path,
            [SafetensorsEntry.FromFloat32("w", [2f], 1), new SafetensorsEntry("bad", SafetensorsDType.I64, [1], new byte[4])]));

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(["keep.safetensors"], Directory.GetFileSystemEntries(Dir).Select(Path.GetFileName));
    }

    [Fact]
    public void Factories_CheckTheShapeAgainstTheData()
    {
        var ex = Assert.Throws<ArgumentException>(() => SafetensorsEntry.FromFloat32("w", [1f, 2f, 3f], 2, 2));
        Assert.Contains("tensor 'w'", ex.Message);
        Assert.Contains("[2, 2]", ex.Message);
        var scalar = Assert.Throws<ArgumentException>(() => SafetensorsEntry.FromInt32("ids", [1, 2]));
        Assert.Contains("scalar", scalar.Message);
        Assert.Throws<ArgumentException>(() => SafetensorsEntry.FromInt64("ids", [1], -1));

        // The factories copy their input.
        float[] source = [1f, 2f];
        var entry = SafetensorsEntry.FromFloat32("w", source, 2);
        source[0] = 9f;
        Assert.Equal(Bytes(1f, 2f), entry.Data.ToArray());
    }

    [Fact]
    public void FromBFloat16_RoundsToNearestEven()
    {
        float F(uint bits) => BitConverter.UInt32BitsToSingle(bits);
        float[] input =
        [
            F(0x3F80_8000), // exactly half way, lower is even -> 0x3F80
            F(0x3F81_8000), // half way, upper is even -> 0x3F82
            F(0x3F80_8001), // just above half -> 0x3F81
            F(0x3F80_7FFF), // just below half -> 0x3F80
            F(0xBF80_8001), // negative, above half -> 0xBF81
            F(0x7F7F_FFFF), // float.MaxValue rounds up to +Inf
            float.PositiveInfinity, float.NegativeInfinity, -0f,
            F(0x7FC0_0001), // NaN with payload only in the low bits stays NaN
            F(0xFF80_0001), // signalling NaN becomes quiet, sign kept
        ];
        // 33 elements: the vector loop and the scalar tail both run.
        var all = Enumerable.Repeat(input, 3).SelectMany(x => x).ToArray();

        var entry = SafetensorsEntry.FromBFloat16("b", all, all.Length);

        var bits = entry.Data.ToArray().Chunk(2).Select(p => BitConverter.ToUInt16(p)).ToArray();
        ushort[] expected = [0x3F80, 0x3F82, 0x3F81, 0x3F80, 0xBF81, 0x7F80, 0x7F80, 0xFF80, 0x8000, 0x7FC0, 0xFFC0];
        Assert.Equal(Enumerable.Repeat(expected, 3).SelectMany(x => x), bits);
        Assert.All(all.Select(BFloat16Conversions.FromSingle), (b, i) => Assert.Equal(bits[i], b));
    }

    [Fact]
    public void FromFloat16_RoundsToNearestEven()
    {
        float[] input = [1f + 1f / 2048, 1f + 3f / 2048, 1f + 1f / 2048 + 1f / 65536, 65504f, 65520f, -2.5f, 5.9604645e-08f, 1e-9f];

        var entry = SafetensorsEntry.FromFloat16("h", input, 2, 4);

        var halves = entry.Data.ToArray().Chunk(2).Select(p => BitConverter.ToHalf(p)).Select(h => (float)h).ToArray();
        Assert.Equal([1f, 1f + 4f / 2048, 1f + 2f / 2048, 65504f, float.PositiveInfinity, -2.5f, 5.9604645e-08f, 0f], halves);
    }
}
