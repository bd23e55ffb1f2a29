namespace FastPrefix.Serving;

/// <summary>
/// Resolves a path given over HTTP inside the configured adapter folder, refusing anything that ends outside it:
/// absolute paths, "..", and symbolic links (of the path or of any folder on the way, and the files of a PEFT folder)
/// whose target lies outside. Both sides are compared after resolving links, so a link inside the folder to another
/// file inside it is fine.
/// </summary>
internal static class AdapterFolderPaths
{
    /// <summary>The real full path, or an error message (Outside: true when the path leaves the folder, false when it does not exist).</summary>
    public static (string? Path, string? Error, bool NotFound) Resolve(string folder, string relative)
    {
        if (string.IsNullOrWhiteSpace(relative)) return (null, "path is empty", false);
        if (relative.Contains('\0')) return (null, "path contains a NUL character", false);
        if (Path.IsPathRooted(relative) || relative.StartsWith('~'))
            return (null, $"path '{relative}' is absolute; give it relative to the adapter folder", false);
        string root = RealPath(Path.GetFullPath(folder));
        string full = Path.GetFullPath(Path.Combine(root, relative));
        if (!IsInside(root, full)) return (null, $"path '{relative}' leaves the adapter folder", false);
        if (!File.Exists(full) && !Directory.Exists(full)) return (null, $"'{relative}' is not in the adapter folder", true);
        string real = RealPath(full);
        if (!IsInside(root, real)) return (null, $"path '{relative}' is a link that leaves the adapter folder", false);
        if (Directory.Exists(real))
            foreach (var f in Directory.EnumerateFileSystemEntries(real))
                if (!IsInside(root, RealPath(f))) return (null, $"'{relative}' holds a link that leaves the adapter folder ({Path.GetFileName(f)})", false);
        return (real, null, false);
    }

    static bool IsInside(string root, string path) =>
        path.StartsWith(root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    /// <summary>The path with every symbolic link along it resolved (as realpath does).</summary>
    static string RealPath(string full)
    {
        string current = Path.GetPathRoot(full)!;
        foreach (var part in full[current.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            string next = Path.Combine(current, part);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            if (info.LinkTarget != null) next = RealPath(info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? next);
            current = next;
        }
        return current;
    }
}
