using System.Buffers;
using System.Buffers.Binary;
using System.Collections.ObjectModel;
using System.IO.MemoryMappedFiles;
using System.Numerics;
using System.Numerics.Tensors;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace FastPrefix.IO;

/// <summary>
/// A safetensors file, memory-mapped read-only. <see cref="Open"/> validates the whole header
/// against the file before returning (types, shapes, offsets in bounds, sizes matching
/// shape × dtype, no duplicate names, tensors covering the data buffer exactly, without overlap
/// or gap, as the reference implementation requires), so the accessors never read outside
/// the file. Every problem is a <see cref="SafetensorsException"/> naming the file and tensor.
/// Spans returned by <see cref="GetBytes"/> and <see cref="GetSpan{T}"/> point into the mapping
/// and are valid until <see cref="Dispose"/>. Reads may run concurrently; Dispose may not.
/// Data is little-endian and need not be aligned (spans tolerate unaligned addresses).
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    internal const string MetadataKey = "__metadata__";

    /// <summary>Largest header accepted, as the reference implementation (100 MB).</summary>
    internal const long MaxHeaderLength = 100_000_000;

    MemoryMappedFile? _map;
    MemoryMappedViewAccessor? _view;
    bool _pointerAcquired;
    byte* _file;
    long _fileLength;
    long _headerLength;
    long _dataLength;
    SafetensorsTensorInfo[] _tensors = [];
    Dictionary<string, SafetensorsTensorInfo> _byName = new(StringComparer.Ordinal);
    IReadOnlyDictionary<string, string> _metadata = ReadOnlyDictionary<string, string>.Empty;

    SafetensorsFile(string filePath) => FilePath = filePath;

    ~SafetensorsFile() => Release(disposing: false);

    /// <summary>Maps <paramref name="path"/> and validates it; the file stays mapped until <see cref="Dispose"/>.</summary>
    public static SafetensorsFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        FileStream stream;
        try
        {
            // Delete sharing lets AtomicFile rename a new version over the file while it is mapped.
            stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, bufferSize: 1);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new SafetensorsException(full, null, "file not found", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SafetensorsException(full, null, "cannot open the file: " + e.Message, e);
        }

        var file = new SafetensorsFile(full);
        try
        {
            file.Load(stream);
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Full path of the file.</summary>
    public string FilePath { get; }

    /// <summary>The <c>__metadata__</c> strings; empty when the header has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata => _metadata;

    /// <summary>All tensors, sorted by <see cref="SafetensorsTensorInfo.DataStart"/>.</summary>
    public IReadOnlyList<SafetensorsTensorInfo> Tensors => _tensors;

    /// <summary>Length of the JSON header in bytes (the u64 at the start of the file).</summary>
    public long HeaderLength => _headerLength;

    /// <summary>Offset of the data buffer in the file: 8 + <see cref="HeaderLength"/>.</summary>
    public long DataBufferOffset => 8 + _headerLength;

    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The tensor's header entry; a missing name is a <see cref="SafetensorsException"/>.</summary>
    public SafetensorsTensorInfo GetInfo(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (_byName.TryGetValue(name, out var info)) return info;
        throw SafetensorsException.NoTensor(FilePath, name, MissingHint(name));
    }

    /// <summary>The tensor's raw bytes, zero-copy (tensors up to 2 GiB - 1 bytes).</summary>
    public ReadOnlySpan<byte> GetBytes(string name)
    {
        var info = GetInfo(name);
        if (info.ByteLength > int.MaxValue)
            throw Fail(name, $"is {info.ByteLength} bytes, more than a span of bytes can hold; use GetSpan<T>");
        return new ReadOnlySpan<byte>(Data(info), (int)info.ByteLength);
    }

    /// <summary>
    /// The tensor's elements as <typeparamref name="T"/>, zero-copy. Only the size is checked:
    /// <c>sizeof(T)</c> must equal the dtype size (so BF16 may be viewed as <see cref="ushort"/>).
    /// </summary>
    public ReadOnlySpan<T> GetSpan<T>(string name) where T : unmanaged
    {
        var info = GetInfo(name);
        int size = SafetensorsDTypes.SizeOf(info.DType);
        if (sizeof(T) != size)
            throw Fail(name, $"has dtype {SafetensorsDTypes.ToName(info.DType)} ({size} bytes per element); " +
                             $"cannot view it as {typeof(T).Name} ({sizeof(T)} bytes)");
        if (info.ElementCount > int.MaxValue)
            throw Fail(name, $"has {info.ElementCount} elements, more than a span can hold");
        return new ReadOnlySpan<T>(Data(info), (int)info.ElementCount);
    }

    /// <summary>Any dtype converted to float32 (F32 is a copy; F64 and 64-bit integers round to nearest).</summary>
    public float[] ReadFloat32(string name)
    {
        var result = GC.AllocateUninitializedArray<float>(ArrayLength(GetInfo(name)));
        ReadFloat32(name, result);
        return result;
    }

    /// <summary>Any dtype converted to float32 into <paramref name="destination"/>, whose length must be the element count.</summary>
    public void ReadFloat32(string name, Span<float> destination)
    {
        var info = GetInfo(name);
        CheckDestination(info, destination.Length);
        var p = Data(info);
        int n = destination.Length;
        switch (info.DType)
        {
            case SafetensorsDType.F32: new ReadOnlySpan<float>(p, n).CopyTo(destination); break;
            case SafetensorsDType.F16: TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(p, n), destination); break;
            case SafetensorsDType.BF16: BFloat16Conversions.ToSingle(new ReadOnlySpan<ushort>(p, n), destination); break;
            case SafetensorsDType.F64: Convert(new ReadOnlySpan<double>(p, n), destination); break;
            case SafetensorsDType.I64: Convert(new ReadOnlySpan<long>(p, n), destination); break;
            case SafetensorsDType.I32: Convert(new ReadOnlySpan<int>(p, n), destination); break;
            case SafetensorsDType.I16: Convert(new ReadOnlySpan<short>(p, n), destination); break;
            case SafetensorsDType.I8: Convert(new ReadOnlySpan<sbyte>(p, n), destination); break;
            case SafetensorsDType.U8: Convert(new ReadOnlySpan<byte>(p, n), destination); break;
            case SafetensorsDType.BOOL: ConvertBool(new ReadOnlySpan<byte>(p, n), destination); break;
            default: throw new InvalidOperationException("unreachable dtype " + info.DType);
        }
    }

    /// <summary>Any dtype converted to float64 (exact except for 64-bit integers beyond 2^53).</summary>
    public double[] ReadFloat64(string name)
    {
        var info = GetInfo(name);
        var result = GC.AllocateUninitializedArray<double>(ArrayLength(info));
        var p = Data(info);
        int n = result.Length;
        switch (info.DType)
        {
            case SafetensorsDType.F64: new ReadOnlySpan<double>(p, n).CopyTo(result); break;
            case SafetensorsDType.F32: Convert(new ReadOnlySpan<float>(p, n), result.AsSpan()); break;
            case SafetensorsDType.F16: Convert(new ReadOnlySpan<Half>(p, n), result.AsSpan()); break;
            case SafetensorsDType.BF16:
                var src = new ReadOnlySpan<ushort>(p, n);
                for (int i = 0; i < n; i++) result[i] = BFloat16Conversions.ToSingle(src[i]);
                break;
            case SafetensorsDType.I64: Convert(new ReadOnlySpan<long>(p, n), result.AsSpan()); break;
            case SafetensorsDType.I32: Convert(new ReadOnlySpan<int>(p, n), result.AsSpan()); break;
            case SafetensorsDType.I16: Convert(new ReadOnlySpan<short>(p, n), result.AsSpan()); break;
            case SafetensorsDType.I8: Convert(new ReadOnlySpan<sbyte>(p, n), result.AsSpan()); break;
            case SafetensorsDType.U8: Convert(new ReadOnlySpan<byte>(p, n), result.AsSpan()); break;
            case SafetensorsDType.BOOL: ConvertBool(new ReadOnlySpan<byte>(p, n), result.AsSpan()); break;
            default: throw new InvalidOperationException("unreachable dtype " + info.DType);
        }
        return result;
    }

    /// <summary>Integer dtypes (and BOOL as 0/1) widened to int64; a float dtype is an error.</summary>
    public long[] ReadInt64(string name)
    {
        var info = GetInfo(name);
        if (SafetensorsDTypes.IsFloat(info.DType))
            throw Fail(name, $"has dtype {SafetensorsDTypes.ToName(info.DType)}; ReadInt64 reads integer dtypes " +
                             "(I64, I32, I16, I8, U8, BOOL); use ReadFloat32 or ReadFloat64");
        var result = GC.AllocateUninitializedArray<long>(ArrayLength(info));
        var p = Data(info);
        int n = result.Length;
        switch (info.DType)
        {
            case SafetensorsDType.I64: new ReadOnlySpan<long>(p, n).CopyTo(result); break;
            case SafetensorsDType.I32: Convert(new ReadOnlySpan<int>(p, n), result.AsSpan()); break;
            case SafetensorsDType.I16: Convert(new ReadOnlySpan<short>(p, n), result.AsSpan()); break;
            case SafetensorsDType.I8: Convert(new ReadOnlySpan<sbyte>(p, n), result.AsSpan()); break;
            case SafetensorsDType.U8: Convert(new ReadOnlySpan<byte>(p, n), result.AsSpan()); break;
            case SafetensorsDType.BOOL: ConvertBool(new ReadOnlySpan<byte>(p, n), result.AsSpan()); break;
            default: throw new InvalidOperationException("unreachable dtype " + info.DType);
        }
        return result;
    }

    /// <summary>Unmaps the file. Spans obtained earlier must not be used afterwards.</summary>
    public void Dispose()
    {
        Release(disposing: true);
        GC.SuppressFinalize(this);
    }

    void Release(bool disposing)
    {
        _file = null;
        if (_pointerAcquired)
        {
            _pointerAcquired = false;
            _view!.SafeMemoryMappedViewHandle.ReleasePointer();
        }
        if (disposing)
        {
            _view?.Dispose();
            _map?.Dispose();
            _view = null;
            _map = null;
        }
    }

    // ---- loading and validation -------------------------------------------------------------

    void Load(FileStream stream)
    {
        long length;
        try
        {
            length = stream.Length;
            if (length == 0)
                throw Fail(null, "the file is empty (0 bytes); a safetensors file starts with an 8-byte header length");
            if (length < 8)
                throw Fail(null, $"the file is {length} bytes, shorter than the 8-byte header length that starts a safetensors file");
            _map = MemoryMappedFile.CreateFromFile(stream, mapName: null, capacity: 0, MemoryMappedFileAccess.Read,
                HandleInheritability.None, leaveOpen: false);
        }
        catch
        {
            stream.Dispose();
            throw;
        }

        _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        byte* pointer = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _pointerAcquired = true;
        _file = pointer + _view.PointerOffset;
        _fileLength = length;

        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(_file, 8));
        if (n > MaxHeaderLength)
            throw Fail(null, $"header length {n} (first 8 bytes, little-endian) is over the {MaxHeaderLength}-byte limit; " +
                             "is this a safetensors file?");
        if ((long)n > length - 8)
            throw Fail(null, $"header length {n} runs past the end of the file: the file is {length} bytes, " +
                             $"so at most {length - 8} bytes of header fit");
        _headerLength = (long)n;
        _dataLength = length - 8 - _headerLength;
        ParseHeader(new ReadOnlySpan<byte>(_file + 8, (int)n));
    }

    void ParseHeader(ReadOnlySpan<byte> header)
    {
        if (!Utf8.IsValid(header))
            throw Fail(null, $"the header is not valid UTF-8 (bad byte sequence at header byte {InvalidUtf8Offset(header)}, file offset {8 + InvalidUtf8Offset(header)})");

        var entries = new List<(string Name, SafetensorsDType DType, long[] Shape, long Count, long Bytes, long Begin, long End)>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var reader = new Utf8JsonReader(header, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 64 });
        try
        {
            reader.Read();
            if (reader.TokenType != JsonTokenType.StartObject)
                throw Fail(null, $"the header must be a JSON object {{\"name\": {{\"dtype\", \"shape\", \"data_offsets\"}}, ...}}, found {Describe(ref reader)}");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            bool hasMetadata = false;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                var key = reader.GetString()!;
                reader.Read();
                if (key == MetadataKey)
                {
                    if (hasMetadata) throw Fail(null, $"'{MetadataKey}' appears twice in the header");
                    hasMetadata = true;
                    ParseMetadata(ref reader, metadata);
                    continue;
                }
                if (!seen.Add(key))
                    throw Fail(key, "the name appears twice in the header; tensor names must be unique");
                entries.Add(ParseTensor(ref reader, key));
            }
            // Anything but whitespace after the object makes this throw.
            while (reader.Read()) { }
        }
        catch (JsonException e)
        {
            throw Fail(null, $"the header is not valid JSON: {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            throw Fail(null, $"the header is not valid JSON: {e.Message}", e);
        }

        foreach (var t in entries)
        {
            string offsets = $"data_offsets [{t.Begin}, {t.End}]";
            if (t.Begin > t.End)
                throw Fail(t.Name, $"{offsets} are reversed: begin must be <= end");
            if (t.End > _dataLength)
                throw Fail(t.Name, $"{offsets} are out of bounds: the data buffer holds {_dataLength} bytes " +
                                   $"(file of {_fileLength} bytes, data from byte {8 + _headerLength})");
            if (t.End - t.Begin != t.Bytes)
                throw Fail(t.Name, $"{offsets} span {t.End - t.Begin} bytes, but shape {SafetensorsTensorInfo.FormatShape(t.Shape)} " +
                                   $"of {SafetensorsDTypes.ToName(t.DType)} ({SafetensorsDTypes.SizeOf(t.DType)} bytes) needs {t.Bytes} bytes");
        }

        var infos = entries
            .Select(t => new SafetensorsTensorInfo(t.Name, t.DType, t.Shape, t.Begin, t.End, t.Count))
            .OrderBy(t => t.DataStart).ThenBy(t => t.DataEnd).ThenBy(t => t.Name, StringComparer.Ordinal)
            .ToArray();
        long expected = 0;
        SafetensorsTensorInfo? previous = null;
        foreach (var t in infos)
        {
            if (t.DataStart < expected)
                throw Fail(t.Name, $"data_offsets [{t.DataStart}, {t.DataEnd}] overlap tensor '{previous!.Name}' " +
                                   $"[{previous.DataStart}, {previous.DataEnd}]");
            if (t.DataStart > expected)
                throw Fail(t.Name, $"the data buffer has {t.DataStart - expected} unused bytes at offset {expected}, before this tensor; " +
                                   "tensors must cover the data buffer without gaps");
            expected = t.DataEnd;
            previous = t;
        }
        if (expected != _dataLength)
            throw Fail(null, $"the data buffer has {_dataLength - expected} unused bytes at offset {expected}, after the last tensor " +
                             $"(file of {_fileLength} bytes); tensors must cover the data buffer without gaps");

        _tensors = infos;
        _byName = infos.ToDictionary(t => t.Name, StringComparer.Ordinal);
        _metadata = new ReadOnlyDictionary<string, string>(metadata);
    }

    void ParseMetadata(ref Utf8JsonReader reader, Dictionary<string, string> metadata)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Fail(null, $"'{MetadataKey}' must be an object of string values, found {Describe(ref reader)}");
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var key = reader.GetString()!;
            reader.Read();
            if (reader.TokenType != JsonTokenType.String)
                throw Fail(null, $"'{MetadataKey}' value of '{key}' must be a string, found {Describe(ref reader)}");
            if (!metadata.TryAdd(key, reader.GetString()!))
                throw Fail(null, $"'{MetadataKey}' has the key '{key}' twice");
        }
    }

    (string, SafetensorsDType, long[], long, long, long, long) ParseTensor(ref Utf8JsonReader reader, string name)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Fail(name, $"the entry must be an object {{\"dtype\", \"shape\", \"data_offsets\"}}, found {Describe(ref reader)}");
        string? dtypeText = null;
        long[]? shape = null, offsets = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var field = reader.GetString()!;
            reader.Read();
            switch (field)
            {
                case "dtype":
                    if (dtypeText is not null) throw Fail(name, "\"dtype\" appears twice");
                    if (reader.TokenType != JsonTokenType.String)
                        throw Fail(name, $"\"dtype\" must be a string such as \"F32\", found {Describe(ref reader)}");
                    dtypeText = reader.GetString()!;
                    break;
                case "shape":
                    if (shape is not null) throw Fail(name, "\"shape\" appears twice");
                    shape = ReadIntegers(ref reader, name, "shape");
                    break;
                case "data_offsets":
                    if (offsets is not null) throw Fail(name, "\"data_offsets\" appears twice");
                    offsets = ReadIntegers(ref reader, name, "data_offsets");
                    break;
                default:
                    reader.Skip(); // unknown fields are ignored, as by the reference implementation
                    break;
            }
        }
        if (dtypeText is null) throw Fail(name, "missing \"dtype\"");
        if (shape is null) throw Fail(name, "missing \"shape\"");
        if (offsets is null) throw Fail(name, "missing \"data_offsets\"");
        if (!SafetensorsDTypes.TryParse(dtypeText, out var dtype))
            throw Fail(name, $"unknown dtype \"{dtypeText}\"; supported: {SafetensorsDTypes.AllNames}");
        if (offsets.Length != 2)
            throw Fail(name, $"\"data_offsets\" must be exactly two integers [begin, end], found {offsets.Length}");
        var count = SafetensorsTensorInfo.TryElementCount(shape);
        var bytes = count is { } c ? SafetensorsTensorInfo.TryByteLength(c, dtype) : null;
        if (bytes is null)
            throw Fail(name, $"shape {SafetensorsTensorInfo.FormatShape(shape)} of {dtypeText} overflows: more than 2^63 bytes");
        return (name, dtype, shape, count!.Value, bytes.Value, offsets[0], offsets[1]);
    }

    long[] ReadIntegers(ref Utf8JsonReader reader, string name, string field)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw Fail(name, $"\"{field}\" must be an array of non-negative integers, found {Describe(ref reader)}");
        var values = new List<long>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long v))
                throw Fail(name, $"\"{field}\"[{values.Count}] must be a non-negative 64-bit integer, found {Describe(ref reader)}");
            if (v < 0)
                throw Fail(name, $"\"{field}\"[{values.Count}] is {v}; {(field == "shape" ? "dimensions" : "offsets")} must be >= 0");
            values.Add(v);
        }
        return values.ToArray();
    }

    static string Describe(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => $"the string \"{reader.GetString()}\"",
        JsonTokenType.Number => $"the number {Encoding.UTF8.GetString(reader.ValueSpan)}",
        JsonTokenType.True => "true",
        JsonTokenType.False => "false",
        JsonTokenType.Null => "null",
        var other => other.ToString(),
    };

    static long InvalidUtf8Offset(ReadOnlySpan<byte> bytes)
    {
        long offset = 0;
        while (!bytes.IsEmpty)
        {
            if (Rune.DecodeFromUtf8(bytes, out _, out int consumed) != OperationStatus.Done) return offset;
            bytes = bytes[consumed..];
            offset += consumed;
        }
        return -1;
    }

    // ---- access helpers ---------------------------------------------------------------------

    byte* Data(SafetensorsTensorInfo info)
    {
        ObjectDisposedException.ThrowIf(_file == null, this);
        return _file + 8 + _headerLength + info.DataStart;
    }

    int ArrayLength(SafetensorsTensorInfo info)
    {
        if (info.ElementCount > Array.MaxLength)
            throw Fail(info.Name, $"has {info.ElementCount} elements, more than one array can hold");
        return (int)info.ElementCount;
    }

    void CheckDestination(SafetensorsTensorInfo info, int length)
    {
        if (length != info.ElementCount)
            throw new ArgumentException($"{FilePath}: tensor '{info.Name}': destination has {length} elements, " +
                                        $"the tensor has {info.ElementCount} (shape {info.ShapeText})", "destination");
    }

    string? MissingHint(string name)
    {
        var similar = _tensors
            .Where(t => t.Name.EndsWith("." + name, StringComparison.Ordinal) || name.EndsWith("." + t.Name, StringComparison.Ordinal))
            .Select(t => $"'{t.Name}'").Take(3).ToArray();
        return similar.Length > 0
            ? $"; did you mean {string.Join(" or ", similar)}?"
            : $" (the file has {_tensors.Length} tensors)";
    }

    SafetensorsException Fail(string? tensor, string problem, Exception? inner = null) => new(FilePath, tensor, problem, inner);

    static void Convert<TFrom, TTo>(ReadOnlySpan<TFrom> source, Span<TTo> destination)
        where TFrom : unmanaged, INumberBase<TFrom>
        where TTo : INumberBase<TTo>
    {
        for (int i = 0; i < source.Length; i++) destination[i] = TTo.CreateTruncating(source[i]);
    }

    static void ConvertBool<TTo>(ReadOnlySpan<byte> source, Span<TTo> destination) where TTo : INumberBase<TTo>
    {
        for (int i = 0; i < source.Length; i++) destination[i] = source[i] != 0 ? TTo.One : TTo.Zero;
    }
}
