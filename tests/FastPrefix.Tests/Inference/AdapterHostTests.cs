using System.Text.Json;
using FastPrefix.Adapters;
using FastPrefix.Cli.Commands;
using FastPrefix.Inference;
using FastPrefix.Model;
using FastPrefix.Model.Heads;

namespace FastPrefix.Tests.Inference;

/// <summary>The adapter host: the same answers as `fastprefix predict`, mixed passes, hot swaps, overload, deadlines, shutdown.</summary>
public sealed class AdapterHostTests : IDisposable
{
    readonly HostTestKit _kit = new();
    static readonly TaskKind[] Kinds = [TaskKind.SequenceClassification, TaskKind.TokenClassification, TaskKind.QuestionAnswering, TaskKind.MultipleChoice];

    public void Dispose() => _kit.Dispose();

    static CancellationToken Ct => TestContext.Current.CancellationToken;

    AdapterHost Open(AdapterHostOptions? options = null) => AdapterHost.Open(_kit.Model, (options ?? new AdapterHostOptions()) with { Device = "cpu" });

    static string[] Predict(string model, string adapter, string input)
    {
        var output = new StringWriter();
        Assert.Equal(0, PredictCommand.Execute(model, adapter, input, 32, null, false, "cpu", TextReader.Null, output));
        return output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    public static TheoryData<TaskKind, bool, int, PositionMode> Variants()
    {
        var data = new TheoryData<TaskKind, bool, int, PositionMode>();
        foreach (var kind in Kinds) data.Add(kind, false, 0, PositionMode.FromZero);
        data.Add(TaskKind.SequenceClassification, true, 0, PositionMode.AfterPrefix);   // MLP prefix, shifted positions
        data.Add(TaskKind.TokenClassification, false, 1, PositionMode.FromZero);         // prefix in the top layer only
        return data;
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task Host_answers_what_predict_prints(TaskKind kind, bool mlp, int firstLayer, PositionMode positions)
    {
        string adapter = _kit.Adapter("a", kind, mlp: mlp, firstLayer: firstLayer, positions: positions);
        var (file, records) = _kit.Inputs(kind);
        var expected = Predict(_kit.Model, adapter, file);

        await using var host = Open();
        await host.LoadAsync("a", adapter, Ct);
        var got = await host.PredictAsync("a", records, cancellationToken: Ct);
        JsonAssert.Close(expected, got.Select(p => p.ToJson()).ToArray());
        // one record at a time (other passes, other padding) gives the same lines
        for (int i = 0; i < records.Length; i++)
            JsonAssert.Close(expected[i], (await host.PredictAsync("a", [records[i]], cancellationToken: Ct))[0].ToJson());
    }

    [Theory]
    [InlineData("cuda-sim")]
    [InlineData("cuda")]
    public async Task Host_on_the_CUDA_backend_answers_what_the_CPU_predicts(string device)
    {
        GpuBackends.Open(device).Dispose();   // skips, saying why, where the device cannot be had
        var names = new List<(string Name, string Path)>();
        var items = new List<PredictItem>();
        var expected = new List<string>();
        for (int i = 0; i < Kinds.Length; i++)
        {
            string name = "gpu" + i, path = _kit.Adapter(name, Kinds[i], seed: 40 + i);
            var (file, records) = _kit.Inputs(Kinds[i]);
            expected.AddRange(Predict(_kit.Model, path, file));
            items.AddRange(records.Select(r => new PredictItem(name, r)));
            names.Add((name, path));
        }
        // One host on the device (its engine thread owns the backend), every task kind mixed in its passes, fp32.
        await using var host = AdapterHost.Open(_kit.Model, new AdapterHostOptions { Device = device, Precision = "fp32", MaxBatchRows = 64 });
        Assert.StartsWith(device + " ", host.Backend);
        foreach (var (name, path) in names) await host.LoadAsync(name, path, Ct);
        JsonAssert.Close(expected, (await host.PredictAsync(items, cancellationToken: Ct)).Select(p => p.ToJson()).ToArray(), tolerance: 1e-4);
    }

    [Fact]
    public void Engine_mixed_pass_equals_each_adapter_alone()
    {
        var paths = Kinds.Select((k, i) => (k, Path: _kit.Adapter("m" + i, k, seed: 10 + i))).ToArray();
        using var engine = new HostEngine(_kit.Model, "cpu", null);
        var tokenizer = FastPrefix.Data.Tokenization.TokenizerFactory.FromFolder(_kit.Model);
        var adapters = paths.Select(p => engine.Load(AdapterFile.Read(p.Path), null)).ToArray();
        var tasks = paths.Select(p => RecordTask.For(AdapterFile.Read(p.Path).Metadata, AdapterFile.Read(p.Path).HeadOutputs, tokenizer, engine.Config)).ToArray();
        var rows = new List<FastPrefix.Data.Features.EncodedRow>();
        var owner = new List<int>();
        for (int a = 0; a < adapters.Length; a++)
            foreach (var record in _kit.Inputs(paths[a].k).Records)
                foreach (var row in tasks[a].Encode(record, "test").Rows) { rows.Add(row); owner.Add(a); }
        // interleave the adapters' rows so neighbours belong to different adapters
        var order = Enumerable.Range(0, rows.Count).OrderBy(i => (i * 7919) % rows.Count).ToArray();
        var mixedRows = order.Select(i => rows[i]).ToArray();
        var mixedOwner = order.Select(i => owner[i]).ToArray();
        var mixed = engine.Run(adapters, mixedRows, mixedOwner, tokenizer.PadId);

        for (int a = 0; a < adapters.Length; a++)
        {
            var mine = Enumerable.Range(0, mixedRows.Length).Where(i => mixedOwner[i] == a).ToArray();
            var alone = engine.Run([adapters[a]], mine.Select(i => mixedRows[i]).ToArray(), new int[mine.Length], tokenizer.PadId);
            for (int j = 0; j < mine.Length; j++)
            {
                var x = mixed[mine[j]]; var y = alone[j];
                Assert.Equal(y.Length, x.Length);
                double scale = Math.Max(1e-6, y.Max(Math.Abs));
                Assert.True(x.Zip(y).All(p => Math.Abs(p.First - p.Second) <= 1e-5 * scale), $"adapter {a} ({paths[a].k}) row {j} differs in a mixed pass");
            }
        }
        foreach (var a in adapters) engine.Release(a);
    }

    [Fact]
    public async Task Host_batches_adapters_of_every_task_in_one_pass_and_groups_prefix_shapes()
    {
        var specs = new (string Name, TaskKind Kind, int P, int First, PositionMode Pos)[]
        {
            ("seq", TaskKind.SequenceClassification, 3, 0, PositionMode.FromZero), ("tok", TaskKind.TokenClassification, 3, 0, PositionMode.FromZero),
            ("qa", TaskKind.QuestionAnswering, 3, 0, PositionMode.FromZero), ("mc", TaskKind.MultipleChoice, 3, 0, PositionMode.FromZero),
            ("long", TaskKind.SequenceClassification, 5, 0, PositionMode.FromZero), ("deep", TaskKind.SequenceClassification, 3, 1, PositionMode.FromZero),
            ("shift", TaskKind.SequenceClassification, 3, 0, PositionMode.AfterPrefix),
        };
        var items = new List<PredictItem>();
        var expected = new List<string>();
        foreach (var (name, kind, p, first, pos) in specs)
        {
            string path = _kit.Adapter(name, kind, prefixLen: p, firstLayer: first, positions: pos, seed: name.Length * 31);
            var (file, records) = _kit.Inputs(kind);
            expected.AddRange(Predict(_kit.Model, path, file));
            items.AddRange(records.Select(r => new PredictItem(name, r)));
        }
        // everything waits for one flush: a pass per prefix shape (4 shapes), the first holding the four task kinds
        await using var host = Open(new AdapterHostOptions { MaxBatchRows = 256, MaxWait = TimeSpan.FromSeconds(30) });
        foreach (var (name, kind, _, _, _) in specs) await host.LoadAsync(name, _kit.Dir[name + ".safetensors"], Ct);
        var pending = host.PredictAsync(items, cancellationToken: Ct);
        await WaitUntil(() => host.QueuedRecords == items.Count);
        await host.StopAsync(Ct);   // stopping closes the waiting passes at once
        JsonAssert.Close(expected, (await pending).Select(p => p.ToJson()).ToArray());
        var stats = host.Statistics;
        Assert.Equal(4, stats.Passes);
        Assert.Equal((4 + 1 + 1 + 1) / 4.0, stats.AdaptersPerPass);
    }

    [Fact]
    public async Task Hot_add_replace_and_remove_under_load_loses_and_corrupts_nothing()
    {
        string stable = _kit.Adapter("stable", TaskKind.SequenceClassification, seed: 1);
        string v1 = _kit.Adapter("v1", TaskKind.SequenceClassification, seed: 2), v2 = _kit.Adapter("v2", TaskKind.MultipleChoice, seed: 3);
        var seq = _kit.Inputs(TaskKind.SequenceClassification).Records;
        var mc = _kit.Inputs(TaskKind.MultipleChoice).Records;
        string stableExpected = Predict(_kit.Model, stable, _kit.Inputs(TaskKind.SequenceClassification).File)[0];
        var swapExpected = new HashSet<string> { Predict(_kit.Model, v1, _kit.Inputs(TaskKind.SequenceClassification).File)[0], Predict(_kit.Model, v2, _kit.Inputs(TaskKind.MultipleChoice).File)[0] };

        await using var host = Open(new AdapterHostOptions { MaxBatchRows = 8, MaxWait = TimeSpan.FromMilliseconds(2) });
        await host.LoadAsync("stable", stable, Ct);
        await host.LoadAsync("swap", v1, Ct);
        // Runs until enough of everything happened (however slow the machine), within a generous cap.
        using var stop = new CancellationTokenSource();
        using var cap = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        int stableOk = 0, swapOk = 0, swapMissing = 0;
        var clients = Enumerable.Range(0, 6).Select(c => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                if (c % 2 == 0)
                {
                    var r = await host.PredictAsync("stable", [seq[0]], cancellationToken: Ct);
                    JsonAssert.Close(stableExpected, r[0].ToJson());
                    Interlocked.Increment(ref stableOk);
                    continue;
                }
                // the swapped adapter is seqcls (v1) or mc (v2): send what the current one reads; a swap in between is BadInput or a result
                bool isMc = host.TryGetAdapter("swap", out var info) && info.Task == "mc";
                try
                {
                    var r = await host.PredictAsync("swap", [isMc ? mc[0] : seq[0]], cancellationToken: Ct);
                    Assert.True(swapExpected.Any(e => JsonAssert.IsClose(e, r[0].ToJson())), $"not a result of either version: {r[0].ToJson()}");
                    Interlocked.Increment(ref swapOk);
                }
                catch (AdapterHostException e) when (e.Kind is HostErrorKind.UnknownAdapter or HostErrorKind.BadInput) { Interlocked.Increment(ref swapMissing); }
            }
        }, Ct)).ToArray();
        int swaps = 0;
        while (!cap.IsCancellationRequested && (swaps <= 10 || Volatile.Read(ref stableOk) <= 10 || Volatile.Read(ref swapOk) <= 10))
        {
            await host.LoadAsync("swap", swaps % 2 == 0 ? v2 : v1, Ct);
            if (swaps % 3 == 2) { Assert.True(host.Remove("swap")); await Task.Delay(5, Ct); await host.LoadAsync("swap", v1, Ct); }
            swaps++;
            await Task.Delay(20, Ct);
        }
        stop.Cancel();
        await Task.WhenAll(clients);
        Assert.True(swaps > 10 && stableOk > 10 && swapOk > 10, $"swaps {swaps}, stable {stableOk}, swap {swapOk}");
        var stats = host.Statistics;
        Assert.Equal(0, stats.Failed - swapMissing);   // only the expected refusals; nothing failed in the engine
        Assert.Equal(0, host.QueuedRecords);
    }

    [Fact]
    public async Task A_full_queue_refuses_at_once_and_the_accepted_requests_finish()
    {
        string a = _kit.Adapter("a", TaskKind.SequenceClassification);
        var records = _kit.Inputs(TaskKind.SequenceClassification).Records;
        var host = Open(new AdapterHostOptions { MaxQueuedRecords = 4, MaxBatchRows = 64, MaxWait = TimeSpan.FromSeconds(30) });
        await host.LoadAsync("a", a, Ct);
        var accepted = host.PredictAsync("a", [records[0], records[1], records[2]], cancellationToken: Ct);
        var one = host.PredictAsync("a", [records[0]], cancellationToken: Ct);
        var refused = host.PredictAsync("a", [records[1]], cancellationToken: Ct);
        Assert.True(refused.IsFaulted, "a request over the queue's bound must fail at once, not wait");
        Assert.Equal(HostErrorKind.Overloaded, Assert.IsType<AdapterHostException>(refused.Exception!.InnerException).Kind);
        Assert.False(accepted.IsCompleted);
        await host.DisposeAsync();   // drains: what was accepted is answered
        Assert.Equal(3, (await accepted).Length);
        Assert.Single(await one);
        Assert.Equal(1, host.Statistics.Overloaded);
        var late = await Assert.ThrowsAsync<AdapterHostException>(() => host.PredictAsync("a", [records[0]], cancellationToken: Ct));
        Assert.Equal(HostErrorKind.ShuttingDown, late.Kind);
    }

    [Fact]
    public async Task Deadlines_and_cancellation_take_the_records_out_of_the_queue()
    {
        string a = _kit.Adapter("a", TaskKind.SequenceClassification);
        var records = _kit.Inputs(TaskKind.SequenceClassification).Records;
        await using var host = Open(new AdapterHostOptions { MaxBatchRows = 64, MaxWait = TimeSpan.FromSeconds(30) });
        await host.LoadAsync("a", a, Ct);

        var started = DateTime.UtcNow;
        var late = await Assert.ThrowsAsync<AdapterHostException>(() => host.PredictAsync("a", records, new PredictOptions { Timeout = TimeSpan.FromMilliseconds(100) }, Ct));
        Assert.Equal(HostErrorKind.DeadlineExceeded, late.Kind);
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(90), TimeSpan.FromSeconds(10));
        Assert.Equal(0, host.QueuedRecords);

        using var cts = new CancellationTokenSource();
        var cancelled = host.PredictAsync("a", records, cancellationToken: cts.Token);
        Assert.Equal(records.Length, host.QueuedRecords);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.Equal(0, host.QueuedRecords);
        var stats = host.Statistics;
        Assert.Equal((records.Length, records.Length, 0L), (stats.DeadlineExceeded, stats.Cancelled, stats.Passes));
    }

    [Fact]
    public async Task Stop_with_cancellation_fails_the_queued_requests_as_shutting_down()
    {
        string a = _kit.Adapter("a", TaskKind.SequenceClassification);
        var host = Open(new AdapterHostOptions { MaxBatchRows = 64, MaxWait = TimeSpan.FromSeconds(30) });
        await host.LoadAsync("a", a, Ct);
        // the records wait for their pass (MaxWait 30 s); a stop that is already cancelled fails them before the engine closes the pass
        var pending = host.PredictAsync("a", _kit.Inputs(TaskKind.SequenceClassification).Records, cancellationToken: Ct);
        using var now = new CancellationTokenSource();
        now.Cancel();
        await host.StopAsync(now.Token);
        var e = await Assert.ThrowsAsync<AdapterHostException>(() => pending);
        Assert.Equal(HostErrorKind.ShuttingDown, e.Kind);
        await host.DisposeAsync();
    }

    [Fact]
    public async Task Errors_name_the_item_field_or_file()
    {
        string a = _kit.Adapter("a", TaskKind.SequenceClassification);
        await using var host = Open();
        await host.LoadAsync("a", a, Ct);

        var unknown = await Assert.ThrowsAsync<AdapterHostException>(() => host.PredictAsync([new PredictItem("a", HostTestKit.Parse("{\"sentence\": \"good\"}")), new PredictItem("nope", default)], cancellationToken: Ct));
        Assert.Equal((HostErrorKind.UnknownAdapter, true), (unknown.Kind, unknown.Message.StartsWith("items[1].adapter: no adapter named 'nope'")));

        var bad = await Assert.ThrowsAsync<AdapterHostException>(() => host.PredictAsync([new PredictItem("a", HostTestKit.Parse("{\"sentence\": 3}"))], cancellationToken: Ct));
        Assert.Equal(HostErrorKind.BadInput, bad.Kind);
        Assert.StartsWith("items[0].input: field \"sentence\" is number 3", bad.Message);

        var missing = await Assert.ThrowsAsync<AdapterHostException>(() => host.LoadAsync("b", _kit.Dir["missing.safetensors"], Ct));
        Assert.Equal(HostErrorKind.BadAdapter, missing.Kind);
        File.WriteAllText(_kit.Dir["junk.safetensors"], "not a safetensors file");
        Assert.Equal(HostErrorKind.BadAdapter, (await Assert.ThrowsAsync<AdapterHostException>(() => host.LoadAsync("b", _kit.Dir["junk.safetensors"], Ct))).Kind);
        Assert.Equal(HostErrorKind.BadInput, (await Assert.ThrowsAsync<AdapterHostException>(() => host.LoadAsync("../b", a, Ct))).Kind);

        // an adapter of another backbone (other hidden size) is refused, naming the difference
        using var other = new Adapters.TempDir();
        Adapters.AdapterTestKit.WriteBackbone(other.Path, Adapters.AdapterTestKit.Config(hidden: 16, heads: 4, layers: 2) with { VocabSize = 100, MaxPositionEmbeddings = 40 });
        File.Copy(Path.Combine(_kit.Model, "vocab.txt"), Path.Combine(other.Path, "vocab.txt"));
        string foreign = _kit.Adapter("foreign", TaskKind.SequenceClassification, model: other.Path);
        var wrong = await Assert.ThrowsAsync<AdapterHostException>(() => host.LoadAsync("b", foreign, Ct));
        Assert.Equal(HostErrorKind.BadAdapter, wrong.Kind);
        Assert.Contains("another backbone", wrong.Message);
        Assert.Equal(["a"], host.Adapters.Select(i => i.Name));
    }

    [Fact]
    public async Task A_PEFT_folder_loads_and_answers_as_its_adapter_file()
    {
        string file = _kit.Adapter("a", TaskKind.TokenClassification, positions: PositionMode.AfterPrefix);
        string peft = _kit.Dir["peft"];
        using (var encoder = Adapters.AdapterTestKit.LoadEncoder(_kit.Model))
        {
            var contents = AdapterFile.Read(file);
            using var model = AdapterFile.Load(contents, encoder, null);
            PeftPrefixAdapter.Export(peft, model, contents.Metadata, null);
            encoder.Backend.Dispose();
        }
        var records = _kit.Inputs(TaskKind.TokenClassification).Records;
        await using var host = Open();
        await host.LoadAsync("file", file, Ct);
        var info = await host.LoadAsync("peft", peft, Ct);
        Assert.Equal(("peft", "tokcls", "after-prefix"), (info.Format, info.Task, info.Positions));
        var fromFile = await host.PredictAsync("file", records, cancellationToken: Ct);
        var fromPeft = await host.PredictAsync("peft", records, cancellationToken: Ct);
        JsonAssert.Close(fromFile.Select(p => p.ToJson()).ToArray(), fromPeft.Select(p => p.ToJson()).ToArray());
    }

    static async Task WaitUntil(Func<bool> condition)
    {
        for (int i = 0; i < 500 && !condition(); i++) await Task.Delay(10);
        Assert.True(condition(), "condition not reached in 5 s");
    }
}
