using System.Diagnostics;

namespace FastPrefix.Tests.Support;

/// <summary>
/// The processor time of the calling thread, so that a time bound holds on a machine shared with other work (and with
/// the tests running beside it): on Linux from /proc/thread-self/stat (user + system, in USER_HZ = 100 ticks per
/// second); elsewhere the wall clock, which can only be longer.
/// </summary>
public static class ThreadCpuTime
{
    /// <summary>How long <paramref name="action"/> kept this thread busy.</summary>
    public static TimeSpan Of(Action action)
    {
        double? before = Seconds();
        var wall = Stopwatch.StartNew();
        action();
        wall.Stop();
        return Seconds() is double after && before is double start ? TimeSpan.FromSeconds(after - start) : wall.Elapsed;
    }

    static double? Seconds()
    {
        const string stat = "/proc/thread-self/stat";
        if (!OperatingSystem.IsLinux() || !File.Exists(stat)) return null;
        string s = File.ReadAllText(stat);
        var fields = s[(s.LastIndexOf(')') + 2)..].Split(' ');   // fields after "pid (name) ": state is [0], utime [11], stime [12]
        return (long.Parse(fields[11]) + long.Parse(fields[12])) / 100.0;
    }
}
