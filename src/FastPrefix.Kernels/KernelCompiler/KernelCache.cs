using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace FastPrefix.Kernels.KernelCompiler;

/// <summary>Whether a cache entry was reused, built because it was missing, or rebuilt because it was unreadable or corrupt.</summary>
public enum CacheOutcome
{
    Hit,
    Built,
    Rebuilt,
}

/// <summary>
/// Compiled kernels on disk, one file per entry, named by a key that covers everything the output depends on
/// (sources, compiler and its version, target, options). Each entry has a SHA-256 sidecar: an entry that
/// cannot be read or does not match it is rebuilt. Entries are written to a temporary file and renamed into
/// place, so a reader never sees half a file and concurrent builders (other processes) do not collide.
/// </summary>
public sealed class KernelCache
{
    private static readonly ConcurrentDictionary<string, object> Locks = new(StringComparer.Ordinal);

    /// <param name="directory">Root folder; null for <see cref="DefaultDirectory"/>.</param>
    public KernelCache(string? directory = null) => Directory = directory ?? DefaultDirectory();

    public string Directory { get; }

    /// <summary>FASTPREFIX_CACHE, else $XDG_CACHE_HOME/fastprefix, else ~/.cache/fastprefix (a temp folder if none is writable).</summary>
    public static string DefaultDirectory()
    {
        if (Environment.GetEnvironmentVariable("FASTPREFIX_CACHE") is { Length: > 0 } explicitRoot) return explicitRoot;
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg) candidates.Add(Path.Combine(xdg, "fastprefix"));
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (home.Length > 0) candidates.Add(Path.Combine(home, ".cache", "fastprefix"));
        foreach (var candidate in candidates)
        {
            try
            {
                System.IO.Directory.CreateDirectory(candidate);
                return candidate;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return Path.Combine(Path.GetTempPath(), $"fastprefix-cache-{Environment.UserName}");
    }

    /// <summary>
    /// The path of entry <paramref name="relativePath"/>, first building it with <paramref name="build"/> (which
    /// writes the file at the path it is given) when it is missing, unreadable or corrupt.
    /// </summary>
    public string GetOrBuild(string relativePath, Action<string> build, out CacheOutcome outcome)
    {
        var path = Path.GetFullPath(Path.Combine(Directory, relativePath));
        lock (Locks.GetOrAdd(path, _ => new object()))
        {
            var state = Check(path);
            if (state == EntryState.Valid)
            {
                outcome = CacheOutcome.Hit;
                return path;
            }
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var temporary = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
            try
            {
                build(temporary);
                var hash = HashFile(temporary);
                File.Move(temporary, path, overwrite: true);
                var sidecarTemporary = temporary + ".sha256";
                File.WriteAllText(sidecarTemporary, hash);
                File.Move(sidecarTemporary, path + ".sha256", overwrite: true);
            }
            finally
            {
                File.Delete(temporary);
                File.Delete(temporary + ".sha256");
            }
            outcome = state == EntryState.Missing ? CacheOutcome.Built : CacheOutcome.Rebuilt;
            return path;
        }
    }

    private enum EntryState { Valid, Missing, Corrupt }

    private static EntryState Check(string path)
    {
        if (!File.Exists(path)) return EntryState.Missing;
        try
        {
            var expected = File.ReadAllText(path + ".sha256").Trim();
            return string.Equals(expected, HashFile(path), StringComparison.OrdinalIgnoreCase) ? EntryState.Valid : EntryState.Corrupt;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return EntryState.Corrupt;
        }
    }

    private static string HashFile(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
