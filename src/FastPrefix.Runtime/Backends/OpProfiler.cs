using System.Diagnostics;
using FastPrefix.Backends.Cuda;
using FastPrefix.Kernels.Device;

namespace FastPrefix.Backends;

/// <summary>
/// Times every call of an inner backend by name, to see where a step's time goes. On a GPU each op is timed on the
/// device by events recorded in stream order around it (the time the op ran, not the time its launch took); on the CPU,
/// and for uploads and downloads, by the wall clock (those finish before they return). Build the model on the profiler
/// and run steps: they are issued op by op (a decorator cannot record graphs), then read <see cref="Totals"/>.
/// </summary>
public sealed class OpProfiler : BackendDecorator
{
    readonly IGpuDevice? _device;
    readonly List<GpuEvent> _events = [];                      // reused from one collection to the next
    readonly List<(string Name, int Start)> _pending = [];     // ops timed by events not read yet: events Start, Start + 1
    readonly Dictionary<string, (double Milliseconds, long Calls)> _totals = [];
    long _clockStart;

    public OpProfiler(IBackend inner) : base(inner) => _device = (inner as CudaBackend)?.Device;

    public override string Name => "profiled " + Inner.Name;

    /// <summary>True when ops are timed on the device (a GPU backend), false when by the wall clock.</summary>
    public bool TimesOnDevice => _device != null;

    /// <summary>Milliseconds and calls per name (device ops under their IBackend names, "upload", "download") since the last <see cref="Reset"/>.</summary>
    public IReadOnlyDictionary<string, (double Milliseconds, long Calls)> Totals { get { Collect(); return _totals; } }

    public void Reset() { Collect(); _totals.Clear(); }

    protected override void Before(string name, BackendCallKind kind)
    {
        if (kind == BackendCallKind.Op && _device != null)
        {
            int start = _pending.Count * 2;
            while (_events.Count < start + 2) _events.Add(_device.CreateEvent());
            _device.Record(_events[start]);
            _pending.Add((name, start));
        }
        else _clockStart = Stopwatch.GetTimestamp();
    }

    protected override void After(string name, BackendCallKind kind)
    {
        if (kind == BackendCallKind.Allocation) return;
        if (kind == BackendCallKind.Op && _device != null) { _device.Record(_events[_pending[^1].Start + 1]); return; }
        Add(kind == BackendCallKind.Op ? name : name.ToLowerInvariant(), Stopwatch.GetElapsedTime(_clockStart).TotalMilliseconds);
    }

    /// <summary>Reads the device timings of the ops issued so far (waits for them).</summary>
    void Collect()
    {
        foreach (var (name, start) in _pending) Add(name, _device!.ElapsedMilliseconds(_events[start], _events[start + 1]));
        _pending.Clear();
    }

    void Add(string name, double milliseconds)
    {
        var (ms, calls) = _totals.GetValueOrDefault(name);
        _totals[name] = (ms + milliseconds, calls + 1);
    }

    public override void Dispose()
    {
        foreach (var e in _events) e.Dispose();
        base.Dispose();
    }
}
