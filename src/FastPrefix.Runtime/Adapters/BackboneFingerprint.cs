using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Hashing;
using System.Security.Cryptography;
using FastPrefix.IO;
using FastPrefix.Model;

namespace FastPrefix.Adapters;

/// <summary>
/// Identifies a backbone checkpoint by its contents: "xxh128:" + XxHash128 (lowercase hex) of every byte of its
/// model.safetensors — header and tensor data, read as a stream — so a fine-tuned copy with the same shapes is told
/// apart. Hashing a bert-large file (1.3 GB) takes a fraction of a second from the page cache (bench: `fingerprint`),
/// so results are only kept for the life of the process (keyed by path, length and write time).
/// Adapters written before content hashing hold a bare 64-digit SHA-256 of the header; <see cref="OfFolderLike"/>
/// computes that kind for them.
/// </summary>
public static class BackboneFingerprint
{
    public const string ContentPrefix = "xxh128:";
    const int ChunkBytes = 1 << 20;

    static readonly ConcurrentDictionary<(string Path, long Length, DateTime Written), string> Computed = new();

    /// <summary>
    /// Fingerprint of a model folder (its model.safetensors) or of a weights file, whichever
    /// <paramref name="modelFolderOrWeightsPath"/> names.
    /// </summary>
    public static string Of(string modelFolderOrWeightsPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelFolderOrWeightsPath);
        return Directory.Exists(modelFolderOrWeightsPath) ? OfFolder(modelFolderOrWeightsPath) : OfWeights(modelFolderOrWeightsPath);
    }

    /// <summary>Fingerprint of the model.safetensors of a Hugging Face model folder.</summary>
    public static string OfFolder(string modelFolder)
    {
        ModelFolder.Check(modelFolder);
        return OfWeights(ModelFolder.WeightsPath(modelFolder));
    }

    /// <summary>The fingerprint of the folder in the form <paramref name="recorded"/> has (content hash, or the older header hash).</summary>
    public static string OfFolderLike(string modelFolder, string recorded)
    {
        ModelFolder.Check(modelFolder);
        string weights = ModelFolder.WeightsPath(modelFolder);
        return IsHeaderHash(recorded) ? HeaderHash(weights) : OfWeights(weights);
    }

    /// <summary>Fingerprint of a safetensors weights file (validated first; a bad file is a <see cref="SafetensorsException"/>).</summary>
    public static string OfWeights(string weightsPath)
    {
        using (SafetensorsFile.Open(weightsPath)) { }
        var info = new FileInfo(Path.GetFullPath(weightsPath));
        return Computed.GetOrAdd((info.FullName, info.Length, info.LastWriteTimeUtc), key => ContentHash(key.Path));
    }

    /// <summary>"" (unknown), "xxh128:" + 32 hex digits, or a header SHA-256 (64 hex digits) of older adapters.</summary>
    public static bool IsWellFormed(string fingerprint) =>
        fingerprint.Length == 0 || IsHeaderHash(fingerprint)
        || fingerprint.StartsWith(ContentPrefix, StringComparison.Ordinal) && IsLowerHex(fingerprint.AsSpan(ContentPrefix.Length), 32);

    static bool IsHeaderHash(string s) => IsLowerHex(s, 64);

    static bool IsLowerHex(ReadOnlySpan<char> s, int length)
    {
        if (s.Length != length) return false;
        foreach (char c in s) if (c is not (>= '0' and <= '9' or >= 'a' and <= 'f')) return false;
        return true;
    }

    static string ContentHash(string path)
    {
        var hash = new XxHash128();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, bufferSize: 0, FileOptions.SequentialScan);
            int n;
            while ((n = stream.Read(buffer, 0, ChunkBytes)) > 0) hash.Append(buffer.AsSpan(0, n));
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
        return ContentPrefix + Convert.ToHexStringLower(hash.GetCurrentHash());
    }

    /// <summary>The fingerprint of adapters written before content hashing: SHA-256 of the length prefix and JSON header.</summary>
    static string HeaderHash(string weightsPath)
    {
        long headerLength;
        using (var file = SafetensorsFile.Open(weightsPath)) headerLength = file.HeaderLength;
        var bytes = new byte[checked(8 + (int)headerLength)];
        using (var stream = new FileStream(Path.GetFullPath(weightsPath), FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete))
            stream.ReadExactly(bytes);
        return Convert.ToHexStringLower(SHA256.HashData(bytes));
    }
}
