using System.Buffers;
using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace FastPrefix.IO;

/// <summary>
/// Writes safetensors files: 8-byte little-endian header length, the JSON header (padded with
/// spaces to a multiple of 8 bytes, so the data buffer starts 8-aligned), then the tensors'
/// bytes back to back in the order given. Output is deterministic: the same input gives the
/// same bytes (<c>__metadata__</c> first, its keys in ordinal order; no timestamps).
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>The <see cref="SafetensorsException.FilePath"/> of errors from <see cref="ToBytes"/>.</summary>
    public const string InMemoryPath = "(in memory)";

    /// <summary>
    /// Checks every entry (duplicate or reserved names, negative dimensions, data length ≠
    /// elements × dtype size), then writes the file through <see cref="AtomicFile"/>: on any error
    /// nothing is created and an existing file is left as it was.
    /// </summary>
    public static void Write(string path, IEnumerable<SafetensorsEntry> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var fullPath = Path.GetFullPath(path);
        var (header, entries, _) = Prepare(fullPath, tensors, metadata);
        AtomicFile.Write(fullPath, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            foreach (var e in entries) stream.Write(e.Data.Span);
        });
    }

    /// <summary>The bytes <see cref="Write"/> would write, in memory.</summary>
    public static byte[] ToBytes(IEnumerable<SafetensorsEntry> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var (header, entries, dataLength) = Prepare(InMemoryPath, tensors, metadata);
        long total = 8 + header.Length + dataLength;
        if (total > Array.MaxLength)
            throw new SafetensorsException(InMemoryPath, null, $"{total} bytes do not fit in one array; write to a file instead");
        var bytes = new byte[total];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        int at = 8 + header.Length;
        foreach (var e in entries)
        {
            e.Data.Span.CopyTo(bytes.AsSpan(at));
            at += e.Data.Length;
        }
        return bytes;
    }

    static (byte[] Header, List<SafetensorsEntry> Entries, long DataLength) Prepare(
        string file, IEnumerable<SafetensorsEntry> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var entries = new List<SafetensorsEntry>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        long offset = 0;
        var offsets = new List<(long Begin, long End)>();
        foreach (var e in tensors)
        {
            if (e is null) throw new SafetensorsException(file, null, $"entry #{entries.Count} is null");
            string name = e.Name;
            if (name == SafetensorsFile.MetadataKey)
                throw new SafetensorsException(file, name, $"'{SafetensorsFile.MetadataKey}' is reserved for the metadata and cannot name a tensor");
            if (!IsWellFormed(name))
                throw new SafetensorsException(file, name, "the name is not well-formed Unicode (unpaired surrogate)");
            if (!names.Add(name))
                throw new SafetensorsException(file, name, "duplicate tensor name; each name may appear once");
            if (!SafetensorsDTypes.IsDefined(e.DType))
                throw new SafetensorsException(file, name, $"dtype {(int)e.DType} is not a SafetensorsDType");
            var shapeText = SafetensorsTensorInfo.FormatShape(e.Shape);
            for (int i = 0; i < e.Shape.Length; i++)
                if (e.Shape[i] < 0)
                    throw new SafetensorsException(file, name, $"shape {shapeText}: dimension {i} is {e.Shape[i]}; dimensions must be >= 0");
            var count = SafetensorsTensorInfo.TryElementCount(e.Shape);
            var bytes = count is { } c ? SafetensorsTensorInfo.TryByteLength(c, e.DType) : null;
            if (bytes is null)
                throw new SafetensorsException(file, name, $"shape {shapeText} has more elements than a 64-bit size can hold");
            if (e.Data.Length != bytes)
                throw new SafetensorsException(file, name,
                    $"shape {shapeText} × {SafetensorsDTypes.ToName(e.DType)} ({SafetensorsDTypes.SizeOf(e.DType)} bytes) needs {bytes} bytes, but the data has {e.Data.Length}");
            offsets.Add((offset, offset + bytes.Value));
            offset += bytes.Value;
            entries.Add(e);
        }

        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = false }))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(SafetensorsFile.MetadataKey);
                foreach (var key in metadata.Keys.Order(StringComparer.Ordinal))
                {
                    var value = metadata[key] ?? throw new SafetensorsException(file, null, $"metadata '{key}' is null; metadata values must be strings");
                    if (!IsWellFormed(key) || !IsWellFormed(value))
                        throw new SafetensorsException(file, null, $"metadata '{key}' is not well-formed Unicode (unpaired surrogate)");
                    json.WriteString(key, value);
                }
                json.WriteEndObject();
            }
            for (int i = 0; i < entries.Count; i++)
            {
                var e = entries[i];
                json.WriteStartObject(e.Name);
                json.WriteString("dtype", SafetensorsDTypes.ToName(e.DType));
                json.WriteStartArray("shape");
                foreach (var d in e.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offsets[i].Begin);
                json.WriteNumberValue(offsets[i].End);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        if (buffer.WrittenCount > SafetensorsFile.MaxHeaderLength)
            throw new SafetensorsException(file, null,
                $"the header would be {buffer.WrittenCount} bytes, over the {SafetensorsFile.MaxHeaderLength}-byte limit readers accept");
        int padded = (buffer.WrittenCount + 7) / 8 * 8;
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return (header, entries, offset);
    }

    static bool IsWellFormed(string s)
    {
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++;
            else if (char.IsSurrogate(c)) return false;
        }
        return true;
    }
}
