using System.Diagnostics;

namespace FastPrefix.Tests.Support;

/// <summary>
/// A small tmpfs mounted for one test (a full or read-only disk that even root cannot write past). Mounting needs
/// root and a mount namespace that allows it; elsewhere the test is skipped with the reason.
/// </summary>
public sealed class SmallFilesystem : IDisposable
{
    public string Path { get; }

    SmallFilesystem(string path) { Path = path; }

    public static SmallFilesystem Mount(int kilobytes, bool readOnly = false)
    {
        string dir = TestPaths.NewTempDir();
        var (code, error) = Run("mount", "-t", "tmpfs", "-o", $"size={kilobytes}k,mode=0777{(readOnly ? ",ro" : "")}", "tmpfs", dir);
        if (code != 0)
        {
            Directory.Delete(dir);
            Assert.Skip($"cannot mount a {kilobytes} KB tmpfs for a full/read-only disk test (needs root): {error.Trim()}");
        }
        return new SmallFilesystem(dir);
    }

    /// <summary>
    /// Fills the free space with one file and keeps it full (space freed by a failed write is taken again) until
    /// <paramref name="until"/> is true; returns the file's path (delete it to free the space).
    /// </summary>
    public string FillUntil(Func<bool> until, TimeSpan limit)
    {
        string filler = System.IO.Path.Combine(Path, "filler");
        var clock = Stopwatch.StartNew();
        int size = 1 << 20;
        while (!until() && clock.Elapsed < limit)
        {
            try
            {
                using var f = new FileStream(filler, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
                f.Write(new byte[Math.Min(size, (int)Math.Max(4096, new DriveInfo(Path).AvailableFreeSpace))]);
            }
            catch (IOException) when (new DriveInfo(Path).AvailableFreeSpace < size)
            {
                if (size > 4096) size /= 4; else Thread.Sleep(1);
            }
        }
        return filler;
    }

    static (int Code, string Error) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        try
        {
            using var p = Process.Start(psi)!;
            string err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, err);
        }
        catch (System.ComponentModel.Win32Exception e) { return (-1, e.Message); }
    }

    public void Dispose()
    {
        Run("umount", "-l", Path);
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
