using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using FastPrefix.Adapters;
using FastPrefix.Data.Datasets;
using FastPrefix.Data.Tokenization;
using FastPrefix.IO;
using FastPrefix.Model;

namespace FastPrefix.Inference;

/// <summary>
/// One frozen backbone serving many adapters at once, safe to use from any number of threads. Adapters are
/// added, replaced and removed by name while requests run. <see cref="PredictAsync(IReadOnlyList{PredictItem}, PredictOptions?, CancellationToken)"/>
/// answers what `fastprefix predict` prints for each record. Records wait in a bounded queue; one engine thread
/// closes a pass at <see cref="AdapterHostOptions.MaxBatchRows"/> rows or after <see cref="AdapterHostOptions.MaxWait"/>,
/// and one encoder pass serves the rows of every adapter with the same prefix shape, each row reading its own
/// prefix and head. A full queue refuses a request at once (<see cref="HostErrorKind.Overloaded"/>); a request
/// can be cancelled or given a timeout. Disposal finishes what was accepted; <see cref="StopAsync"/> can also cancel it.
/// </summary>
public sealed partial class AdapterHost : IAsyncDisposable, IDisposable
{
    /// <summary>The System.Diagnostics.Metrics meter the host reports to (records, pass rows and adapters, queue depth, latency).</summary>
    public const string MeterName = HostMetrics.MeterName;

    readonly AdapterHostOptions _options;
    readonly ITextTokenizer _tokenizer;
    readonly string _fingerprint;
    readonly HostMetrics _metrics;
    readonly Thread _thread;
    readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    HostEngine? _engine;    // created, used and disposed by the engine thread only

    // Everything below is guarded by _gate; the engine thread waits on it for records and control work.
    readonly object _gate = new();
    readonly LinkedList<QueuedRecord> _queue = new();
    readonly Queue<Action> _control = new();
    readonly Dictionary<string, HostedAdapter> _adapters = new(StringComparer.Ordinal);
    readonly List<HostedAdapter> _retired = [];
    readonly Dictionary<string, int> _versions = new(StringComparer.Ordinal);
    bool _accepting = true, _stopping, _hurrying;

    AdapterHost(string modelDir, AdapterHostOptions options)
    {
        options.Validate();
        ModelFolder.Check(modelDir);
        _options = options;
        ModelDirectory = Path.GetFullPath(modelDir);
        _tokenizer = TokenizerFactory.FromFolder(modelDir);
        _fingerprint = BackboneFingerprint.OfFolder(modelDir);
        _metrics = new HostMetrics(options.MaxBatchRows, () => QueuedRecords);
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _thread = new Thread(() => EngineLoop(ready)) { IsBackground = true, Name = "FastPrefix adapter host" };
        _thread.Start();
        try { ready.Task.GetAwaiter().GetResult(); }
        catch { _metrics.Dispose(); throw; }
    }

    /// <summary>Loads the backbone of a Hugging Face model folder (weights and tokenizer) and starts the engine thread.</summary>
    public static AdapterHost Open(string modelDir, AdapterHostOptions? options = null) => new(modelDir, options ?? new AdapterHostOptions());

    public AdapterHostOptions Options => _options;
    /// <summary>Full path of the backbone's model folder.</summary>
    public string ModelDirectory { get; }
    public string Backend { get; private set; } = "";
    public EncoderConfig Config { get; private set; } = null!;

    /// <summary>Records waiting for a pass (not those in the running pass).</summary>
    public int QueuedRecords { get { lock (_gate) return _queue.Count; } }

    public HostStatistics Statistics => _metrics.Snapshot();

    /// <summary>The loaded adapters, by name.</summary>
    public IReadOnlyList<AdapterInfo> Adapters
    {
        get { lock (_gate) return _adapters.Values.Select(a => a.Info).OrderBy(i => i.Name, StringComparer.Ordinal).ToArray(); }
    }

    public bool TryGetAdapter(string name, out AdapterInfo info)
    {
        lock (_gate)
        {
            info = _adapters.TryGetValue(name, out var a) ? a.Info : null!;
            return info != null;
        }
    }

    // ------------------------------------------------------------------ adapters

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex NamePattern();

    /// <summary>Adapter names: 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit (they appear in URLs).</summary>
    public static bool IsValidName(string? name) => name != null && NamePattern().IsMatch(name);

    /// <summary>
    /// Loads (or replaces) adapter <paramref name="name"/> from an adapter file, or from a PEFT prefix-tuning folder when
    /// <paramref name="path"/> is a folder, checked against the backbone. Requests already accepted for a replaced
    /// version finish on it; later ones use the new one.
    /// </summary>
    public Task<AdapterInfo> LoadAsync(string name, string path, CancellationToken cancellationToken = default) =>
        Directory.Exists(path) ? LoadPeftAsync(name, path, null, cancellationToken) : LoadFileAsync(name, path, cancellationToken);

    /// <summary>Loads (or replaces) adapter <paramref name="name"/> from an adapter.safetensors file.</summary>
    public async Task<AdapterInfo> LoadFileAsync(string name, string path, CancellationToken cancellationToken = default)
    {
        CheckName(name);
        string full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new AdapterHostException(HostErrorKind.BadAdapter, $"{full}: adapter file not found");
        var contents = Guard(() => AdapterFile.Read(full));
        return await InstallAsync(name, "file", _ => contents, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Loads (or replaces) adapter <paramref name="name"/> from a Hugging Face PEFT prefix-tuning folder.</summary>
    public async Task<AdapterInfo> LoadPeftAsync(string name, string folder, PeftImportOptions? options = null, CancellationToken cancellationToken = default)
    {
        CheckName(name);
        string full = Path.GetFullPath(folder);
        if (!Directory.Exists(full)) throw new AdapterHostException(HostErrorKind.BadAdapter, $"{full}: PEFT adapter folder not found");
        var peftOptions = (options ?? new PeftImportOptions()) with { BackboneFingerprint = options?.BackboneFingerprint ?? _fingerprint };
        return await InstallAsync(name, "peft", engine => engine.ReadPeft(full, peftOptions), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Removes adapter <paramref name="name"/>; its accepted requests still finish. False when no such adapter is loaded.</summary>
    public bool Remove(string name)
    {
        lock (_gate)
        {
            if (!_adapters.Remove(name, out var old)) return false;
            Retire(old);
            Monitor.PulseAll(_gate);
            return true;
        }
    }

    static void CheckName(string name)
    {
        if (!IsValidName(name))
            throw new AdapterHostException(HostErrorKind.BadInput, $"adapter name '{name}' is not valid: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit");
    }

    /// <summary>Reads the contents and builds the adapter on the engine thread, then swaps it in under its name.</summary>
    async Task<AdapterInfo> InstallAsync(string name, string format, Func<HostEngine, AdapterContents> read, CancellationToken cancellationToken)
    {
        var built = await OnEngineAsync(engine =>
        {
            var contents = Guard(() => read(engine));
            var meta = contents.Metadata;
            if (meta.TokenizerKind.Length > 0 && meta.TokenizerKind != _tokenizer.Kind)
                throw new AdapterHostException(HostErrorKind.BadAdapter, $"{contents.Source}: trained with a {meta.TokenizerKind} tokenizer, but {ModelDirectory} has a {_tokenizer.Kind} one");
            var task = RecordTask.For(meta, contents.HeadOutputs, _tokenizer, engine.Config);
            var adapter = Guard(() => engine.Load(contents, _fingerprint));
            return (contents, adapter, task);
        }, cancellationToken).ConfigureAwait(false);

        lock (_gate)
        {
            if (!_accepting)
            {
                _retired.Add(new HostedAdapter(null!, built.adapter, built.task) { Retired = true });
                Monitor.PulseAll(_gate);
                throw ShuttingDown();
            }
            int version = _versions[name] = _versions.GetValueOrDefault(name) + 1;
            var hosted = new HostedAdapter(AdapterInfo.Of(name, built.contents, format, version, built.adapter.Outputs, Config), built.adapter, built.task);
            if (_adapters.TryGetValue(name, out var old)) Retire(old);
            _adapters[name] = hosted;
            Monitor.PulseAll(_gate);
            return hosted.Info;
        }
    }

    void Retire(HostedAdapter adapter)
    {
        adapter.Retired = true;
        _retired.Add(adapter);
    }

    /// <summary>Turns the readers' and loaders' input errors into <see cref="HostErrorKind.BadAdapter"/>.</summary>
    static T Guard<T>(Func<T> load)
    {
        try { return load(); }
        catch (Exception e) when (e is AdapterException or SafetensorsException or ModelFormatException or IOException or UnauthorizedAccessException)
        {
            throw new AdapterHostException(HostErrorKind.BadAdapter, e.Message, e);
        }
    }

    /// <summary>Runs <paramref name="work"/> on the engine thread between passes.</summary>
    Task<T> OnEngineAsync<T>(Func<HostEngine, T> work, CancellationToken cancellationToken)
    {
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (!_accepting) throw ShuttingDown();
            _control.Enqueue(() =>
            {
                if (cancellationToken.IsCancellationRequested) { tcs.TrySetCanceled(cancellationToken); return; }
                try { tcs.TrySetResult(work(_engine!)); }
                catch (Exception e) { tcs.TrySetException(e); }
            });
            Monitor.PulseAll(_gate);
        }
        return tcs.Task;
    }

    // ------------------------------------------------------------------ requests

    /// <summary>Predicts <paramref name="inputs"/> with one adapter; errors name "inputs[i]".</summary>
    public Task<Prediction[]> PredictAsync(string adapter, IReadOnlyList<JsonElement> inputs, PredictOptions? options = null, CancellationToken cancellationToken = default) =>
        Submit(inputs.Select(i => new PredictItem(adapter, i)).ToArray(), i => $"inputs[{i}]", i => "adapter", options, cancellationToken);

    /// <summary>
    /// Predicts every item with its adapter, the results in item order: exactly what `fastprefix predict` prints for
    /// each record. Fails with <see cref="AdapterHostException"/> (its <see cref="AdapterHostException.Kind"/> says why;
    /// messages name "items[i].input" and the field) or, when <paramref name="cancellationToken"/> fires, with
    /// <see cref="OperationCanceledException"/>. All items are accepted together or none is.
    /// </summary>
    public Task<Prediction[]> PredictAsync(IReadOnlyList<PredictItem> items, PredictOptions? options = null, CancellationToken cancellationToken = default) =>
        Submit(items, i => $"items[{i}].input", i => $"items[{i}].adapter", options, cancellationToken);

    Task<Prediction[]> Submit(IReadOnlyList<PredictItem> items, Func<int, string> inputName, Func<int, string> adapterName,
        PredictOptions? options, CancellationToken cancellationToken)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            if (cancellationToken.IsCancellationRequested) return Task.FromCanceled<Prediction[]>(cancellationToken);
            if (items.Count == 0) return Task.FromResult(Array.Empty<Prediction>());
            if (items.Count > _options.MaxQueuedRecords)
                throw new AdapterHostException(HostErrorKind.BadInput, $"{items.Count} records in one request, more than the queue holds ({_options.MaxQueuedRecords}); split it");
            var timeout = options?.Timeout;
            if (timeout is { } t && t <= TimeSpan.Zero) throw new AdapterHostException(HostErrorKind.BadInput, $"timeout must be positive, got {t}");
            var request = Enqueue(items, inputName, adapterName);
            Watch(request, timeout, cancellationToken);
            return request.Task;
        }
        catch (AdapterHostException e)
        {
            _metrics.Request(Outcome(e), items.Count, Stopwatch.GetElapsedTime(start));
            return Task.FromException<Prediction[]>(e);
        }
    }

    /// <summary>Encodes every record on the caller's thread, then queues them all at once (or refuses them all).</summary>
    PendingRequest Enqueue(IReadOnlyList<PredictItem> items, Func<int, string> inputName, Func<int, string> adapterName)
    {
        // A version retired between reading and queueing (replaced, removed) is looked up again: at most a few rounds.
        for (int attempt = 0; ; attempt++)
        {
            var adapters = new HostedAdapter[items.Count];
            lock (_gate)
            {
                if (!_accepting) throw ShuttingDown();
                for (int i = 0; i < items.Count; i++)
                    if (!_adapters.TryGetValue(items[i].Adapter ?? "", out adapters[i]!))
                        throw new AdapterHostException(HostErrorKind.UnknownAdapter, $"{adapterName(i)}: no adapter named '{items[i].Adapter}' is loaded");
            }
            var encoded = new EncodedRecord[items.Count];
            for (int i = 0; i < items.Count; i++)
            {
                try { encoded[i] = adapters[i].Task.Encode(items[i].Input, inputName(i)); }
                catch (Exception e) when (e is DatasetException or TokenizerException or ArgumentException or InvalidOperationException)
                {
                    throw new AdapterHostException(HostErrorKind.BadInput, e.Message, e);
                }
            }
            lock (_gate)
            {
                if (!_accepting) throw ShuttingDown();
                if (adapters.Any(a => a.Retired))
                {
                    if (attempt < 3) continue;
                    throw new AdapterHostException(HostErrorKind.UnknownAdapter, "the adapters of this request were replaced while it was read; try again");
                }
                if (_queue.Count + items.Count > _options.MaxQueuedRecords)
                    throw new AdapterHostException(HostErrorKind.Overloaded,
                        $"overloaded: {_queue.Count} records are waiting and the queue holds {_options.MaxQueuedRecords}; retry later");
                var request = new PendingRequest(items.Count);
                long now = Stopwatch.GetTimestamp();
                for (int i = 0; i < items.Count; i++)
                {
                    var record = new QueuedRecord(request, i, adapters[i], encoded[i], now);
                    record.Node = _queue.AddLast(record);
                    request.Records.Add(record);
                    adapters[i].Pending++;
                }
                Monitor.PulseAll(_gate);
                return request;
            }
        }
    }

    /// <summary>Fails the request when the caller cancels or its timeout passes; its queued records leave the queue at once.</summary>
    void Watch(PendingRequest request, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        CancellationTokenRegistration byCaller = default, byDeadline = default;
        CancellationTokenSource? deadline = null;
        if (timeout is { } t)
        {
            deadline = new CancellationTokenSource(t);
            byDeadline = deadline.Token.Register(() => Abort(request, new AdapterHostException(HostErrorKind.DeadlineExceeded,
                $"deadline exceeded: the request was not answered within {t.TotalMilliseconds:0} ms")));
        }
        if (cancellationToken.CanBeCanceled)
            byCaller = cancellationToken.Register(() => Abort(request, new OperationCanceledException(cancellationToken)));
        request.Watch = new Registrations(byCaller, byDeadline, deadline);
        if (request.IsCompleted) request.Watch.Dispose();   // it may have finished before the watch was set
    }

    sealed class Registrations(CancellationTokenRegistration a, CancellationTokenRegistration b, CancellationTokenSource? source) : IDisposable
    {
        public void Dispose() { a.Dispose(); b.Dispose(); source?.Dispose(); }
    }

    void Abort(PendingRequest request, Exception reason)
    {
        if (!request.Fail(reason)) return;
        _metrics.Request(Outcome(reason), request.Records.Count, Stopwatch.GetElapsedTime(request.StartTimestamp));
        lock (_gate)
        {
            foreach (var r in request.Records)
            {
                if (r.Node != null) { _queue.Remove(r.Node); r.Node = null; }
                TryRelease(r);
            }
            Monitor.PulseAll(_gate);
        }
    }

    static string Outcome(Exception e) => e switch
    {
        OperationCanceledException => "cancelled",
        AdapterHostException { Kind: HostErrorKind.Overloaded } => "overloaded",
        AdapterHostException { Kind: HostErrorKind.DeadlineExceeded } => "deadline_exceeded",
        AdapterHostException { Kind: HostErrorKind.BadInput or HostErrorKind.UnknownAdapter } => "rejected",
        _ => "failed",
    };

    /// <summary>A record leaves the host (the adapter's use count drops) once it is out of the queue and no pass holds its rows.</summary>
    void TryRelease(QueuedRecord r)
    {
        if (r.Released || r.Node != null || r.InFlight > 0) return;
        r.Released = true;
        r.Adapter.Pending--;
    }

    static AdapterHostException ShuttingDown() => new(HostErrorKind.ShuttingDown, "the adapter host is shutting down");

    // ------------------------------------------------------------------ engine thread

    sealed record Pass(List<HostedAdapter> Adapters, List<(QueuedRecord Record, int Row)> Rows);

    void EngineLoop(TaskCompletionSource ready)
    {
        try
        {
            _engine = new HostEngine(ModelDirectory, _options.Device, _options.Notice, _options.Precision);
            Backend = _engine.BackendName;
            Config = _engine.Config;
            ready.SetResult();
        }
        catch (Exception e)
        {
            ready.SetException(e);
            return;
        }
        try
        {
            while (true)
            {
                Action? control = null;
                Pass? pass = null;
                lock (_gate)
                {
                    while (true)
                    {
                        ReleaseRetired();
                        if (_control.TryDequeue(out control)) break;
                        if (_queue.Count == 0)
                        {
                            if (_stopping) return;
                            Monitor.Wait(_gate);
                            continue;
                        }
                        pass = NextPass(out var wait);
                        if (pass != null) break;
                        Monitor.Wait(_gate, wait);
                    }
                }
                if (control != null) control();
                else Run(pass!);
            }
        }
        finally
        {
            lock (_gate)
            {
                foreach (var a in _adapters.Values) Retire(a);
                _adapters.Clear();
                foreach (var a in _retired) _engine.Release(a.Engine);
                _retired.Clear();
                while (_control.TryDequeue(out var c)) c();    // loads that raced the stop fail: the engine is still here
            }
            _engine.Dispose();
            _stopped.TrySetResult();
        }
    }

    void ReleaseRetired()
    {
        for (int i = _retired.Count - 1; i >= 0; i--)
        {
            if (_retired[i].Pending > 0) continue;
            _engine!.Release(_retired[i].Engine);
            _retired.RemoveAt(i);
        }
    }

    /// <summary>
    /// The next pass, led by the oldest record: the rows of the records that may share its pass, in queue order, up to
    /// MaxBatchRows. Null while the pass is not full and its oldest record has waited less than MaxWait (then
    /// <paramref name="wait"/> says how much longer). When stopping, nothing waits.
    /// </summary>
    Pass? NextPass(out TimeSpan wait)
    {
        wait = TimeSpan.Zero;
        var first = _queue.First!.Value;
        int max = _options.MaxBatchRows, available = 0;
        for (var n = _queue.First; n != null && available < max; n = n.Next)
            if (SharesPass(first, n.Value)) available += n.Value.RowsLeft;
        var waited = Stopwatch.GetElapsedTime(first.EnqueuedTimestamp);
        if (available < max && !_stopping && !_hurrying && waited < _options.MaxWait)
        {
            wait = _options.MaxWait - waited;
            return null;
        }

        var pass = new Pass([], []);
        for (var n = _queue.First; n != null && pass.Rows.Count < max;)
        {
            var next = n.Next;
            var r = n.Value;
            if (SharesPass(first, r))
            {
                int take = Math.Min(r.RowsLeft, max - pass.Rows.Count);
                for (int k = 0; k < take; k++) pass.Rows.Add((r, r.Scheduled + k));
                r.Scheduled += take; r.InFlight += take;
                if (!pass.Adapters.Contains(r.Adapter)) pass.Adapters.Add(r.Adapter);
                if (r.RowsLeft == 0) { _queue.Remove(n); r.Node = null; }
            }
            n = next;
        }
        return pass;
    }

    bool SharesPass(QueuedRecord first, QueuedRecord other) => _options.Batching == BatchingMode.MixedAdapters
        ? other.Adapter.Engine.Shape == first.Adapter.Engine.Shape
        : other.Adapter == first.Adapter;

    void Run(Pass pass)
    {
        var rows = pass.Rows.Select(p => p.Record.Encoded.Rows[p.Row]).ToArray();
        var rowAdapter = pass.Rows.Select(p => pass.Adapters.IndexOf(p.Record.Adapter)).ToArray();
        long start = Stopwatch.GetTimestamp();
        float[][]? outputs = null;
        Exception? error = null;
        try { outputs = _engine!.Run(pass.Adapters.Select(a => a.Engine).ToArray(), rows, rowAdapter, _tokenizer.PadId); }
        catch (Exception e) { error = e; }
        _metrics.Pass(rows.Length, pass.Adapters.Count, Stopwatch.GetElapsedTime(start));

        var finished = new List<QueuedRecord>();
        lock (_gate)
        {
            for (int i = 0; i < pass.Rows.Count; i++)
            {
                var (r, row) = pass.Rows[i];
                if (outputs != null) r.Outputs[row] = outputs[i];
                r.InFlight--; r.Done++;
                if (r.Done == r.Encoded.Rows.Count) finished.Add(r);
                TryRelease(r);
            }
        }
        if (error != null)
        {
            foreach (var request in pass.Rows.Select(p => p.Record.Request).Distinct())
                Abort(request, new AdapterHostException(HostErrorKind.EngineFailure, $"the encoder pass failed: {error.Message}", error));
            return;
        }
        foreach (var r in finished)
        {
            var request = r.Request;
            if (request.IsCompleted) continue;
            Prediction prediction;
            try { prediction = r.Adapter.Task.Decode(r.Encoded, r.Outputs); }
            catch (Exception e)
            {
                Abort(request, new AdapterHostException(HostErrorKind.EngineFailure, $"post-processing failed: {e.Message}", e));
                continue;
            }
            if (request.SetResult(r.Index, prediction))
                _metrics.Request("ok", request.Records.Count, Stopwatch.GetElapsedTime(request.StartTimestamp));
        }
    }

    // ------------------------------------------------------------------ shutdown

    /// <summary>
    /// From now on a pass closes as soon as it has work, without waiting for <see cref="AdapterHostOptions.MaxWait"/>:
    /// what an application calls when it begins to stop, so requests in flight finish while its server drains them.
    /// </summary>
    public void Hurry()
    {
        lock (_gate)
        {
            _hurrying = true;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>
    /// Stops accepting requests and loads, finishes every accepted request (or, once <paramref name="cancellationToken"/>
    /// fires, fails those still queued with <see cref="HostErrorKind.ShuttingDown"/>), then releases the engine.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate) _accepting = false;
        using (cancellationToken.Register(CancelQueued))   // at once when already cancelled, before the engine stops waiting
        {
            lock (_gate)
            {
                _stopping = true;
                Monitor.PulseAll(_gate);
            }
            await _stopped.Task.ConfigureAwait(false);
        }
    }

    void CancelQueued()
    {
        List<PendingRequest> requests;
        lock (_gate) requests = _queue.Select(r => r.Request).Distinct().ToList();
        foreach (var r in requests) Abort(r, ShuttingDown());
    }

    /// <summary>Stops as <see cref="StopAsync"/> with no cancellation: every accepted request is answered first.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _metrics.Dispose();
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
