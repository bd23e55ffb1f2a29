using System.Diagnostics;
using FastPrefix.Backends;

namespace FastPrefix.Bench;

/// <summary>Wraps a backend and accumulates wall time per op (and per upload/download), to see where a step's time goes.</summary>
public sealed class ProfilingBackend(IBackend inner) : BackendDecorator(inner)
{
    public readonly Dictionary<string, (double Seconds, long Calls)> Times = [];
    long _start;

    public override string Name => "profiled " + Inner.Name;

    protected override void Before(string name, BackendCallKind kind) => _start = Stopwatch.GetTimestamp();

    protected override void After(string name, BackendCallKind kind)
    {
        if (kind == BackendCallKind.Allocation) return;
        string key = kind == BackendCallKind.Op ? name : name.ToLowerInvariant();
        var (s, c) = Times.GetValueOrDefault(key);
        Times[key] = (s + Stopwatch.GetElapsedTime(_start).TotalSeconds, c + 1);
    }
}
