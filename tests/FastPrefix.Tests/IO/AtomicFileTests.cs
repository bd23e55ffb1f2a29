using System.Text;
using FastPrefix.IO;

namespace FastPrefix.Tests.IO;

public sealed class AtomicFileTests : IDisposable
{
    readonly string _dir = TestPaths.NewTempDir();

    string[] Entries() => Directory.GetFileSystemEntries(_dir).Select(p => Path.GetFileName(p)!).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void Write_CreatesAndReplacesTheFile_LeavingNoTemporaryFile()
    {
        var path = Path.Combine(_dir, "out.bin");

        AtomicFile.Write(path, s => s.Write([1, 2, 3]));
        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
        AtomicFile.WriteAllBytes(path, [4, 5]);
        Assert.Equal([4, 5], File.ReadAllBytes(path));

        Assert.Equal(["out.bin"], Entries());
    }

    [Fact]
    public void WhenTheWriterThrows_TheOldFileIsKept_AndTheTemporaryFileDeleted()
    {
        var path = Path.Combine(_dir, "keep.txt");
        File.WriteAllText(path, "old");
        string? tempSeen = null;

        var ex = Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            tempSeen = ((FileStream)s).Name;
            s.Write("half of the new"u8);
            s.Flush();
            throw new InvalidOperationException("boom");
        }));

        Assert.Equal("boom", ex.Message);
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Equal(["keep.txt"], Entries());
        // The temporary file was in the same folder, hidden, named after the target.
        Assert.Equal(_dir, Path.GetDirectoryName(tempSeen));
        Assert.Matches(@"^\.keep\.txt\.[0-9a-f]{12}\.tmp$", Path.GetFileName(tempSeen));
    }

    [Fact]
    public void WhenTheWriterThrows_AndThereWasNoFile_NothingIsLeft()
    {
        var path = Path.Combine(_dir, "new.bin");

        Assert.Throws<IOException>(() => AtomicFile.Write(path, s =>
        {
            s.WriteByte(1);
            throw new IOException("disk full");
        }));

        Assert.Empty(Entries());
    }

    [Fact]
    public void WriteAllText_IsUtf8WithoutBom_AndAWriterThatDisposesTheStreamIsFine()
    {
        var path = Path.Combine(_dir, "t.json");

        AtomicFile.WriteAllText(path, "{\"é\": 1}");
        Assert.Equal(Encoding.UTF8.GetBytes("{\"é\": 1}"), File.ReadAllBytes(path));

        AtomicFile.Write(path, s =>
        {
            using var w = new StreamWriter(s);
            w.Write("via StreamWriter");
        });
        Assert.Equal("via StreamWriter", File.ReadAllText(path));
        Assert.Equal(["t.json"], Entries());
        Assert.Throws<DirectoryNotFoundException>(() => AtomicFile.WriteAllText(Path.Combine(_dir, "missing", "x.txt"), "x"));
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); }
        catch (IOException) { }
    }
}
