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

    /// <summary>True when FASTPREFIX_FIXTURES names the fixtures root (instead of the repository's tests/fixtures).</summary>
    public static bool FixturesOverridden => !string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("FASTPREFIX_FIXTURES"));

    /// <summary>
    /// The fixture folder <paramref name="name"/> under <see cref="FixturesRoot"/>. When FASTPREFIX_FIXTURES points to a
    /// root without it the test is skipped with the reason; when the repository's own copy lacks it the test fails.
    /// </summary>
    public static string Fixture(string name) => ResolveFixture(FixturesRoot, name, FixturesOverridden);

    internal static string ResolveFixture(string root, string name, bool overridden)
    {
        var (dir, problem) = LocateFixture(root, name, overridden);
        Apply(problem);
        return dir;
    }

    /// <summary>What a missing fixture means: a skip with the reason under an overriding root, a failure in the repository.</summary>
    internal readonly record struct Problem(bool Skip, string Message);

    static void Apply(Problem? problem)
    {
        if (problem is not { } p) return;
        if (p.Skip) Assert.Skip(p.Message);
        Assert.Fail(p.Message);
    }

    internal static (string Dir, Problem? Problem) LocateFixture(string root, string name, bool overridden)
    {
        string dir = Path.Combine(root, name);
        if (Directory.Exists(dir)) return (dir, null);
        return (dir, overridden
            ? new Problem(true, $"FASTPREFIX_FIXTURES={root} has no fixture folder '{name}', which this test is written for")
            : new Problem(false, $"the repository's fixture folder {dir} is missing"));
    }

    /// <summary>
    /// The fixture folders holding <paramref name="fileName"/>; none skips the test when FASTPREFIX_FIXTURES is set
    /// (with the reason) and fails it otherwise (the repository carries them).
    /// </summary>
    public static IReadOnlyList<string> RequireFixturesWith(string fileName) => RequireFixturesWith(FixturesRoot, fileName, FixturesOverridden);

    internal static IReadOnlyList<string> RequireFixturesWith(string root, string fileName, bool overridden)
    {
        var (found, problem) = LocateFixturesWith(root, fileName, overridden);
        Apply(problem);
        return found;
    }

    internal static (IReadOnlyList<string> Found, Problem? Problem) LocateFixturesWith(string root, string fileName, bool overridden)
    {
        var found = FixtureFoldersIn(root, fileName).ToList();
        if (found.Count > 0) return (found, null);
        return (found, overridden
            ? new Problem(true, $"FASTPREFIX_FIXTURES={root} has no fixture folder holding {fileName}")
            : new Problem(false, $"no folder under the repository's fixtures root {root} holds {fileName}"));
    }

    /// <summary>Fixture folders under <see cref="FixturesRoot"/> that contain the given file.</summary>
    public static IEnumerable<string> FixtureFoldersWith(string fileName) => FixtureFoldersIn(FixturesRoot, fileName);

    static IEnumerable<string> FixtureFoldersIn(string root, string fileName)
    {
        if (!Directory.Exists(root)) yield break;
        foreach (var dir in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
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
