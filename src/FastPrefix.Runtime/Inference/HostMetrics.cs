using System.Diagnostics.Metrics;

namespace FastPrefix.Inference;

/// <summary>
/// The host's instruments (System.Diagnostics.Metrics, meter "FastPrefix.Inference"): records by outcome, rows and
/// adapters per encoder pass, queue depth, request and pass latency. Any listener (an OpenTelemetry exporter,
/// dotnet-counters) can read them; <see cref="Snapshot"/> keeps the totals for the load benchmark.
/// </summary>
internal sealed class HostMetrics : IDisposable
{
    public const string MeterName = "FastPrefix.Inference";
    static readonly double[] SecondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    readonly Meter _meter = new(MeterName);
    readonly Counter<long> _records;
    readonly Histogram<int> _passRows, _passAdapters;
    readonly Histogram<double> _requestSeconds, _passSeconds;
    readonly int _maxBatchRows;
    long _passes, _rows, _adapters, _completed, _overloaded, _deadline, _cancelled, _failed;

    public HostMetrics(int maxBatchRows, Func<int> queueDepth)
    {
        _maxBatchRows = maxBatchRows;
        int[] rowBuckets = [.. Enumerable.Range(0, 12).Select(i => 1 << i).TakeWhile(b => b < maxBatchRows), maxBatchRows];
        _records = _meter.CreateCounter<long>("fastprefix.host.records", "{record}", "Records answered or refused, by outcome");
        _passRows = _meter.CreateHistogram("fastprefix.host.pass.rows", "{row}", "Encoder rows per pass (batch size)",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = rowBuckets });
        _passAdapters = _meter.CreateHistogram("fastprefix.host.pass.adapters", "{adapter}", "Distinct adapters per encoder pass",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 3, 4, 6, 8, 12, 16, 32] });
        _requestSeconds = _meter.CreateHistogram("fastprefix.host.request.duration", "s", "From PredictAsync to its answer",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _passSeconds = _meter.CreateHistogram("fastprefix.host.pass.duration", "s", "One encoder pass with its heads",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _meter.CreateObservableGauge("fastprefix.host.queue.depth", queueDepth, "{record}", "Records waiting for a pass");
    }

    public void Pass(int rows, int adapters, TimeSpan took)
    {
        Interlocked.Increment(ref _passes); Interlocked.Add(ref _rows, rows); Interlocked.Add(ref _adapters, adapters);
        _passRows.Record(rows); _passAdapters.Record(adapters); _passSeconds.Record(took.TotalSeconds);
    }

    /// <summary>A request ended: its records counted under the outcome, its latency recorded.</summary>
    public void Request(string outcome, int records, TimeSpan took)
    {
        switch (outcome)
        {
            case "ok": Interlocked.Add(ref _completed, records); break;
            case "overloaded": Interlocked.Add(ref _overloaded, records); break;
            case "deadline_exceeded": Interlocked.Add(ref _deadline, records); break;
            case "cancelled": Interlocked.Add(ref _cancelled, records); break;
            default: Interlocked.Add(ref _failed, records); break;
        }
        var tag = new KeyValuePair<string, object?>("outcome", outcome);
        _records.Add(records, tag);
        _requestSeconds.Record(took.TotalSeconds, tag);
    }

    public HostStatistics Snapshot() => new(Interlocked.Read(ref _passes), Interlocked.Read(ref _rows), Interlocked.Read(ref _adapters),
        Interlocked.Read(ref _completed), Interlocked.Read(ref _overloaded), Interlocked.Read(ref _deadline),
        Interlocked.Read(ref _cancelled), Interlocked.Read(ref _failed), _maxBatchRows);

    public void Dispose() => _meter.Dispose();
}
