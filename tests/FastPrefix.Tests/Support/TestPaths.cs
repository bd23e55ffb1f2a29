namespace FastPrefix.Tests.Support;

/// <summary>Where the tests find the repository and the reference fixtures.</summary>
public static class TestPaths
{
    /// <summary>The folder that holds FastPrefix.sln, found by walking up from the test binaries.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>
    /// Root of the fixture folders: $FASTPREFIX_FIXTURES if set, else tests/fixtures in the repository (a copy of the
    /// sample fixtures, so a bare clone passes its own tests).
    /// </summary>
    public static string FixturesRoot
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("FASTPREFIX_FIXTURES");
            if (!string.IsNullOrWhiteSpace(env)) return Path.GetFullPath(env);
            return Path.Combine(RepoRoot, "tests", "fixtures");
        }
    }

    /// <summary>Fixture folders under <see cref="FixturesRoot"/> that contain the given file.</summary>
    public static IEnumerable<string> FixtureFoldersWith(string fileName)
    {
        if (!Directory.Exists(FixturesRoot)) yield break;
        foreach (var dir in Directory.GetDirectories(FixturesRoot).Order(StringComparer.Ordinal))
            if (File.Exists(Path.Combine(dir, fileName))) yield return dir;
    }

    /// <summary>A fresh empty temporary folder, removed by the caller when done.</summary>
    public static string NewTempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "fastprefix-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "FastPrefix.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("FastPrefix.sln not found above " + AppContext.BaseDirectory);
    }
}
