using System.Security.Cryptography;
using System.Text;

namespace FastPrefix.IO;

/// <summary>
/// Writes a file so that it is never seen half-written: the content goes to a temporary file
/// in the same folder (".&lt;name&gt;.&lt;random&gt;.tmp"), is flushed to disk, then renamed over the
/// target. If writing fails the temporary file is deleted, the exception propagates and the
/// previous file (if any) is untouched. Readers that still have the old file open or mapped
/// keep seeing the old content.
/// </summary>
public static class AtomicFile
{
    /// <summary>Runs <paramref name="write"/> on a stream to the temporary file, then renames it to <paramref name="path"/>.
    /// The callback may dispose the stream (e.g. through a StreamWriter); the content is then not fsynced.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        var (target, temp) = Prepare(path);
        try
        {
            using (var stream = CreateTemp(temp))
            {
                write(stream);
                if (stream.CanWrite) stream.Flush(flushToDisk: true);
            }
            File.Move(temp, target, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Writes <paramref name="text"/> as UTF-8 without a byte order mark.</summary>
    public static void WriteAllText(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        WriteAllBytes(path, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text));
    }

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        var (target, temp) = Prepare(path);
        try
        {
            using (var stream = CreateTemp(temp))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, target, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    static (string Target, string Temp) Prepare(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var target = Path.GetFullPath(path);
        var name = Path.GetFileName(target);
        if (name.Length == 0) throw new ArgumentException($"'{path}' names a folder, not a file", nameof(path));
        var folder = Path.GetDirectoryName(target)!;
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"cannot write '{target}': folder '{folder}' does not exist");
        if (Directory.Exists(target))
            throw new IOException($"cannot write '{target}': a folder of that name exists");
        var random = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        return (target, Path.Combine(folder, $".{name}.{random}.tmp"));
    }

    static FileStream CreateTemp(string temp) =>
        new(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16);

    static void TryDelete(string temp)
    {
        try { File.Delete(temp); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
