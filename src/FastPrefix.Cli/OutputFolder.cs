namespace FastPrefix.Cli;

/// <summary>
/// Checks on the folders and files commands write, made before any work starts, so a wrong --output, a read-only
/// folder or a full disk is one line and exit 2 instead of an internal error after minutes of training.
/// </summary>
internal static class OutputFolder
{
    /// <summary>An --output that must be a folder: not an existing file.</summary>
    public static void MustNotBeAFile(string path, string option)
    {
        if (File.Exists(path)) throw new UserInputException($"{option} {path} is a file; expected a folder (it is created when missing)");
    }

    /// <summary>
    /// Creates the folder when missing and proves it writable with a small probe file; refuses when the disk has less
    /// than <paramref name="bytesNeeded"/> free.
    /// </summary>
    public static void Prepare(string folder, string option, long bytesNeeded)
    {
        MustNotBeAFile(folder, option);
        string probe = Path.Combine(folder, $".fastprefix-write-test-{Environment.ProcessId}");
        try
        {
            Directory.CreateDirectory(folder);
            File.WriteAllBytes(probe, new byte[4096]);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(probe); } catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException) { }
            throw new UserInputException(IsDiskFull(e)
                ? $"{option} {folder}: no space left on the device"
                : $"{option} {folder} is not writable ({e.Message})");
        }
        long free = FreeBytes(folder);
        if (free >= 0 && free < bytesNeeded)
            throw new UserInputException($"{option} {folder}: {Megabytes(free)} free on the device, but the run writes about {Megabytes(bytesNeeded)} " +
                                         "(checkpoint and adapter); free some space or choose another folder");
    }

    /// <summary>ENOSPC / EDQUOT on Unix (the IOException's HResult is the errno there), ERROR_DISK_FULL / ERROR_HANDLE_DISK_FULL on Windows.</summary>
    public static bool IsDiskFull(Exception e) =>
        e is IOException && (e.HResult is 28 or 122 || (e.HResult & 0xFFFF) is 0x70 or 0x27
                             || e.Message.Contains("No space left on device", StringComparison.OrdinalIgnoreCase));

    static long FreeBytes(string folder)
    {
        try { return new DriveInfo(Path.GetFullPath(folder)).AvailableFreeSpace; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException) { return -1; }
    }

    public static string Megabytes(long bytes) => bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):F1} GB" : $"{Math.Max(1, bytes >> 20)} MB";
}
