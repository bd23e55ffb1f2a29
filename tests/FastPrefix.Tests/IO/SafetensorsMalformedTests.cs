using System.Buffers.Binary;
using System.Text;
using FastPrefix.IO;

namespace FastPrefix.Tests.IO;

/// <summary>
/// Every malformed file is a <see cref="SafetensorsException"/> naming the file (and the tensor),
/// never another exception and never a read outside the file.
/// </summary>
public sealed class SafetensorsMalformedTests : SafetensorsTestBase
{
    const string A8 = "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

    [Fact]
    public void MissingFile()
    {
        var path = PathOf("nope.safetensors");
        var ex = AssertOpenFails(path, null, "file not found");
        Assert.IsType<FileNotFoundException>(ex.InnerException);
        AssertOpenFails(PathOf("no-folder/x.safetensors"), null, "file not found");
    }

    [Fact]
    public void EmptyFile()
    {
        AssertOpenFails(WriteRaw("e.safetensors", []), null, "empty (0 bytes)");
    }

    [Fact]
    public void FileShorterThan8Bytes()
    {
        AssertOpenFails(WriteRaw("s.safetensors", [2, 0, 0, 0, 0]), null, "5 bytes", "8-byte header length");
    }

    [Fact]
    public void HeaderLengthPastTheEndOfTheFile()
    {
        var bytes = Build("{}      ", 0);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 9);
        AssertOpenFails(WriteRaw("p.safetensors", bytes), null, "header length 9 runs past the end of the file", "16 bytes");
    }

    [Fact]
    public void HeaderLengthOver100MB()
    {
        var bytes = Build("{}      ", 0);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 100_000_001);
        AssertOpenFails(WriteRaw("big.safetensors", bytes), null, "header length 100000001", "100000000-byte limit");
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, ulong.MaxValue);
        AssertOpenFails(WriteRaw("huge.safetensors", bytes), null, $"header length {ulong.MaxValue}");
        // A zip (PyTorch .bin) file read as safetensors.
        AssertOpenFails(WriteRaw("zip.safetensors", "PK\u0003\u0004\u0014\0\0\0\0\0"u8.ToArray()), null, "is this a safetensors file?");
    }

    [Fact]
    public void HeaderThatIsNotJson()
    {
        var ex = AssertOpenFails(WriteHeader("j.safetensors", """{"a":{"dtype":"F32",}""", 0), null, "not valid JSON");
        Assert.NotNull(ex.InnerException);
        AssertOpenFails(WriteHeader("trailing.safetensors", """{} x""", 0), null, "not valid JSON");
        AssertOpenFails(WriteHeader("blank.safetensors", "        ", 0), null, "not valid JSON");
        AssertOpenFails(WriteHeader("zero.safetensors", "", 0), null, "not valid JSON");
    }

    [Fact]
    public void HeaderThatIsNotUtf8()
    {
        var bytes = Build("""{"a\u00ff":{}}""", 0);
        var at = Array.IndexOf(bytes, (byte)'\\');
        bytes[at] = 0xFF; // a lone 0xFF is never UTF-8
        AssertOpenFails(WriteRaw("u.safetensors", bytes), null, "not valid UTF-8", $"header byte {at - 8}");
    }

    [Fact]
    public void HeaderThatIsNotAnObject()
    {
        AssertOpenFails(WriteHeader("arr.safetensors", """[{"dtype":"F32"}]""", 0), null, "must be a JSON object", "found an array");
        AssertOpenFails(WriteHeader("str.safetensors", "\"x\"", 0), null, "found the string \"x\"");
    }

    [Fact]
    public void TensorEntryThatIsNotAnObject()
    {
        AssertOpenFails(WriteHeader("t.safetensors", """{"w":[0,8]}""", 8), "w", "must be an object", "found an array");
    }

    [Theory]
    [InlineData("dtype", """{"w":{"shape":[2],"data_offsets":[0,8]}}""")]
    [InlineData("shape", """{"w":{"dtype":"F32","data_offsets":[0,8]}}""")]
    [InlineData("data_offsets", """{"w":{"dtype":"F32","shape":[2]}}""")]
    public void MissingField(string field, string header)
    {
        AssertOpenFails(WriteHeader($"m-{field}.safetensors", header, 8), "w", $"missing \"{field}\"");
    }

    [Theory]
    [InlineData("""{"w":{"dtype":32,"shape":[2],"data_offsets":[0,8]}}""", "\"dtype\" must be a string", "found the number 32")]
    [InlineData("""{"w":{"dtype":"F32","shape":2,"data_offsets":[0,8]}}""", "\"shape\" must be an array", "found the number 2")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}""", "\"shape\"[0] must be a non-negative 64-bit integer", "found the number 2.0")]
    [InlineData("""{"w":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}}""", "\"shape\"[0] must be", "found the string \"2\"")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2],"data_offsets":{"begin":0}}}""", "\"data_offsets\" must be an array", "found an object")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,null]}}""", "\"data_offsets\"[1] must be", "found null")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551616]}}""", "\"data_offsets\"[1] must be a non-negative 64-bit integer")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2],"dtype":"F32","data_offsets":[0,8]}}""", "\"dtype\" appears twice")]
    public void FieldWithTheWrongJsonType(string header, string expected, string? found = null)
    {
        var ex = AssertOpenFails(WriteHeader("types.safetensors", header, 8), "w", expected);
        if (found != null) Assert.Contains(found, ex.Message);
    }

    [Fact]
    public void UnknownDtype()
    {
        AssertOpenFails(WriteHeader("d.safetensors", """{"w":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}}""", 8),
            "w", "unknown dtype \"F8_E4M3\"", "F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL");
        AssertOpenFails(WriteHeader("lower.safetensors", """{"w":{"dtype":"f32","shape":[2],"data_offsets":[0,8]}}""", 8),
            "w", "unknown dtype \"f32\"");
    }

    [Fact]
    public void NegativeDimension()
    {
        AssertOpenFails(WriteHeader("n.safetensors", """{"w":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,8]}}""", 8),
            "w", "\"shape\"[1] is -1", "must be >= 0");
    }

    [Fact]
    public void ShapeWhoseElementCountOverflows()
    {
        AssertOpenFails(WriteHeader("o.safetensors", """{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}""", 8),
            "w", "[4294967296, 4294967296]", "overflows");
        // Fits as an element count, overflows once multiplied by the dtype size.
        AssertOpenFails(WriteHeader("o2.safetensors", """{"w":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8]}}""", 8),
            "w", "overflows");
    }

    [Fact]
    public void DataOffsetsThatAreNotTwoNonNegativeIntegers()
    {
        AssertOpenFails(WriteHeader("three.safetensors", """{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}}""", 8),
            "w", "exactly two integers", "found 3");
        AssertOpenFails(WriteHeader("one.safetensors", """{"w":{"dtype":"F32","shape":[2],"data_offsets":[8]}}""", 8),
            "w", "exactly two integers", "found 1");
        AssertOpenFails(WriteHeader("neg.safetensors", """{"w":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}""", 8),
            "w", "\"data_offsets\"[0] is -8");
    }

    [Fact]
    public void OffsetsReversed()
    {
        AssertOpenFails(WriteHeader("r.safetensors", """{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}""", 8),
            "w", "data_offsets [8, 0] are reversed");
    }

    [Fact]
    public void OffsetsOutOfBoundsOfTheDataBuffer()
    {
        AssertOpenFails(WriteHeader("b.safetensors", """{"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 8),
            "w", "data_offsets [4, 12] are out of bounds", "holds 8 bytes");
        AssertOpenFails(WriteHeader("far.safetensors", """{"w":{"dtype":"F32","shape":[2],"data_offsets":[9223372036854775799,9223372036854775807]}}""", 8),
            "w", "out of bounds");
    }

    [Fact]
    public void OverlappingTensors()
    {
        AssertOpenFails(WriteHeader("ov.safetensors",
            """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12),
            "b", "data_offsets [4, 12] overlap tensor 'a' [0, 8]");
        // Two names for the same bytes.
        AssertOpenFails(WriteHeader("alias.safetensors",
            """{"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 8),
            "b", "overlap tensor 'a'");
    }

    [Fact]
    public void ByteLengthThatDoesNotMatchShapeTimesDtypeSize()
    {
        AssertOpenFails(WriteHeader("size.safetensors", """{"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,8]}}""", 8),
            "w", "data_offsets [0, 8] span 8 bytes, but shape [2, 3] of BF16 (2 bytes) needs 12 bytes");
    }

    [Fact]
    public void DuplicateTensorName()
    {
        AssertOpenFails(WriteHeader("dup.safetensors", "{" + A8 + "," + A8.Replace("[0,8]", "[8,16]") + "}", 16),
            "a", "appears twice");
    }

    [Fact]
    public void MetadataThatIsNotAnObjectOfStrings()
    {
        AssertOpenFails(WriteHeader("m1.safetensors", "{\"__metadata__\":[\"pt\"]," + A8 + "}", 8),
            null, "'__metadata__' must be an object of string values", "found an array");
        AssertOpenFails(WriteHeader("m2.safetensors", "{\"__metadata__\":{\"epoch\":3}," + A8 + "}", 8),
            null, "value of 'epoch' must be a string", "found the number 3");
        AssertOpenFails(WriteHeader("m3.safetensors", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}," + A8 + "}", 8),
            null, "has the key 'k' twice");
        AssertOpenFails(WriteHeader("m4.safetensors", "{\"__metadata__\":{},\"__metadata__\":{}}", 0),
            null, "'__metadata__' appears twice");
    }

    [Fact]
    public void UnusedBytesBetweenTensors()
    {
        AssertOpenFails(WriteHeader("gap.safetensors",
            """{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", 12),
            "b", "4 unused bytes at offset 4", "without gaps");
        AssertOpenFails(WriteHeader("lead.safetensors", """{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8),
            "b", "4 unused bytes at offset 0");
    }

    [Fact]
    public void UnusedBytesAfterTheLastTensor()
    {
        AssertOpenFails(WriteHeader("tail.safetensors", "{" + A8 + "}", 11),
            null, "3 unused bytes at offset 8, after the last tensor");
        AssertOpenFails(WriteHeader("tail0.safetensors", "{}", 2), null, "2 unused bytes at offset 0");
    }

    [Fact]
    public void RandomlyCorruptedFiles_OnlyEverGiveSafetensorsExceptions()
    {
        var valid = SafetensorsWriter.ToBytes(
        [
            SafetensorsEntry.FromFloat32("a.weight", [1f, 2f, 3f, 4f], 2, 2),
            SafetensorsEntry.FromBFloat16("b", [5f, 6f], 2),
            SafetensorsEntry.FromInt64("c", [7]),
            new SafetensorsEntry("d", SafetensorsDType.BOOL, [0, 3], ReadOnlyMemory<byte>.Empty),
        ], new Dictionary<string, string> { ["format"] = "pt" });
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(valid);
        var random = new Random(1234);
        const string alphabet = "{}[],:\"0123456789-.eE \\FIBUOLdtypeshapedata_offsets";
        int opened = 0;
        for (int i = 0; i < 400; i++)
        {
            var bytes = valid.ToArray();
            switch (i % 4)
            {
                case 0: // a JSON-ish character somewhere in the header
                    for (int k = random.Next(1, 4); k > 0; k--)
                        bytes[random.Next(8, headerEnd)] = (byte)alphabet[random.Next(alphabet.Length)];
                    break;
                case 1: // any byte anywhere
                    bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                    break;
                case 2: // truncated
                    bytes = bytes[..random.Next(bytes.Length)];
                    break;
                default: // header length off by a little
                    BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)(headerEnd - 8 + random.Next(-9, 10)));
                    break;
            }
            var path = WriteRaw($"fuzz{i}.safetensors", bytes);
            try
            {
                using var file = SafetensorsFile.Open(path);
                opened++;
                foreach (var t in file.Tensors)
                {
                    Assert.Equal(t.ElementCount, file.ReadFloat32(t.Name).Length);
                    Assert.Equal(t.ByteLength, file.GetBytes(t.Name).Length);
                }
            }
            catch (SafetensorsException e)
            {
                Assert.StartsWith(path + ": ", e.Message);
            }
            File.Delete(path);
        }
        Assert.InRange(opened, 1, 399); // some mutations are harmless (data bytes), most are not
    }

    [Fact]
    public void ValidHandWrittenFile_OpensForComparison()
    {
        // The base of the malformed cases above is itself valid.
        using var file = SafetensorsFile.Open(WriteHeader("ok.safetensors", "{" + A8 + "}", 8));
        Assert.Equal(["a"], file.Tensors.Select(t => t.Name));
        Assert.Equal(Encoding.UTF8.GetByteCount("{" + A8 + "}") + 8, file.DataBufferOffset);
    }
}
