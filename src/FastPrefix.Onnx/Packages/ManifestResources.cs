using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace FastPrefix.Onnx.Packages;

/// <summary>
/// Reads the embedded (manifest) resources of a .NET assembly from its file's metadata tables, without loading or
/// running the assembly: a resource is a 4-byte length and its bytes at an offset in the CLI resources directory.
/// </summary>
public static class ManifestResources
{
    /// <summary>Copies resource <paramref name="name"/> into <paramref name="destination"/>.</summary>
    public static void CopyTo(string assemblyPath, string name, Stream destination)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = Open(stream, assemblyPath);
        var md = pe.GetMetadataReader();
        foreach (var handle in md.ManifestResources)
        {
            var resource = md.GetManifestResource(handle);
            if (md.GetString(resource.Name) != name) continue;
            if (!resource.Implementation.IsNil)
                throw new InvalidDataException($"{assemblyPath}: resource '{name}' lives in another file, not in this assembly");
            var directory = pe.PEHeaders.CorHeader!.ResourcesDirectory;
            if (!pe.PEHeaders.TryGetDirectoryOffset(directory, out int start))
                throw new InvalidDataException($"{assemblyPath}: no CLI resources directory");
            long at = start + resource.Offset;
            stream.Position = at;
            Span<byte> header = stackalloc byte[4];
            stream.ReadExactly(header);
            long length = BitConverter.ToUInt32(header);
            if (resource.Offset + 4 + length > directory.Size)
                throw new InvalidDataException($"{assemblyPath}: resource '{name}' claims {length} bytes, past the end of the resources directory");
            CopyBytes(stream, destination, length);
            return;
        }
        throw new InvalidDataException($"{assemblyPath}: no embedded resource '{name}'");
    }

    static PEReader Open(Stream stream, string path)
    {
        var pe = new PEReader(stream, PEStreamOptions.LeaveOpen);
        if (!pe.HasMetadata) { pe.Dispose(); throw new InvalidDataException($"{path}: not a .NET assembly (no metadata)"); }
        return pe;
    }

    static void CopyBytes(Stream from, Stream to, long count)
    {
        var buffer = new byte[1 << 20];
        while (count > 0)
        {
            int n = from.Read(buffer, 0, (int)Math.Min(buffer.Length, count));
            if (n == 0) throw new EndOfStreamException("the assembly ends inside a resource");
            to.Write(buffer, 0, n);
            count -= n;
        }
    }
}
