using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using FastPrefix.Adapters;
using FastPrefix.Cli.Commands;
using FastPrefix.Inference;
using FastPrefix.Model.Heads;
using FastPrefix.Serving;
using Microsoft.AspNetCore.Builder;

namespace FastPrefix.Tests.Inference;

/// <summary>The HTTP server end to end over loopback: answers, every error status, limits, API key, management, metrics, OpenAPI.</summary>
public sealed class ServerTests : IAsyncDisposable
{
    readonly HostTestKit _kit = new();
    readonly List<IAsyncDisposable> _owned = [];
    static CancellationToken Ct => TestContext.Current.CancellationToken;
    static readonly TaskKind[] Kinds = [TaskKind.SequenceClassification, TaskKind.TokenClassification, TaskKind.QuestionAnswering, TaskKind.MultipleChoice];
    static readonly string[] Names = ["seq", "tok", "qa", "mc"];

    public async ValueTask DisposeAsync()
    {
        foreach (var d in Enumerable.Reverse(_owned)) await d.DisposeAsync();
        _kit.Dispose();
    }

    /// <summary>A started server on a free loopback port with the four task adapters, and a client for it.</summary>
    async Task<(HttpClient Client, AdapterHost Host)> Start(FastPrefixServingOptions? serving = null, AdapterHostOptions? hostOptions = null)
    {
        var host = AdapterHost.Open(_kit.Model, (hostOptions ?? new AdapterHostOptions()) with { Device = "cpu" });
        _owned.Add(host);
        for (int i = 0; i < Kinds.Length; i++)
            if (!File.Exists(_kit.Dir[Names[i] + ".safetensors"])) _kit.Adapter(Names[i], Kinds[i], seed: 7 + i);
        foreach (var name in Names) await host.LoadAsync(name, _kit.Dir[name + ".safetensors"], Ct);
        var app = FastPrefixServer.Create(host, new ServerOptions { Port = 0, Serving = serving ?? new FastPrefixServingOptions() });
        await app.StartAsync(Ct);
        _owned.Add(app);
        var client = new HttpClient { BaseAddress = FastPrefixServer.Address(app) };
        return (client, host);
    }

    static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    static async Task<JsonElement> Body(HttpResponseMessage r) => JsonDocument.Parse(await r.Content.ReadAsStringAsync(Ct)).RootElement.Clone();

    static async Task<JsonElement> Expect(HttpResponseMessage r, HttpStatusCode status, string? code = null)
    {
        var text = await r.Content.ReadAsStringAsync(Ct);
        Assert.True(r.StatusCode == status, $"expected {(int)status}, got {(int)r.StatusCode}: {text}");
        var body = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        if (code != null) Assert.Equal(code, body.GetProperty("error").GetProperty("code").GetString());
        return body;
    }

    string PredictBody(params (string Adapter, JsonElement Input)[] items) =>
        JsonSerializer.Serialize(new { items = items.Select(i => new { adapter = i.Adapter, input = i.Input }) });

    [Fact]
    public async Task Predict_mixes_every_task_in_one_request_and_answers_what_predict_prints()
    {
        var (client, host) = await Start();
        var items = new List<(string, JsonElement)>();
        var expected = new List<string>();
        for (int i = 0; i < Kinds.Length; i++)
        {
            var (file, records) = _kit.Inputs(Kinds[i]);
            var output = new StringWriter();
            PredictCommand.Execute(_kit.Model, _kit.Dir[Names[i] + ".safetensors"], file, 32, null, false, "cpu", TextReader.Null, output);
            expected.AddRange(output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
            items.AddRange(records.Select(r => (Names[i], r)));
        }
        // interleave the tasks in the request; the answers come back in request order
        var order = Enumerable.Range(0, items.Count).OrderBy(i => i % 3).ThenBy(i => i).ToArray();
        var response = await client.PostAsync("/v1/predict", Json(PredictBody(order.Select(i => items[i]).ToArray())), Ct);
        var results = (await Expect(response, HttpStatusCode.OK)).GetProperty("results").EnumerateArray().Select(r => r.GetRawText()).ToArray();
        JsonAssert.Close(order.Select(i => expected[i]).ToArray(), results);
        Assert.True(host.Statistics.AdaptersPerPass > 1, "rows of several adapters should have shared a pass");
    }

    [Fact]
    public async Task Bad_requests_get_400_naming_the_field_and_unknown_adapters_404()
    {
        var (client, _) = await Start();
        var good = HostTestKit.Parse("{\"sentence\": \"good\"}");
        await Expect(await client.PostAsync("/v1/predict", Json("{\"items\": [ {"), Ct), HttpStatusCode.BadRequest, "bad_input");
        await Expect(await client.PostAsync("/v1/predict", Json("[1, 2]"), Ct), HttpStatusCode.BadRequest, "bad_input");
        await Expect(await client.PostAsync("/v1/predict", Json("{\"items\": []}"), Ct), HttpStatusCode.BadRequest, "bad_input");
        var e = await Expect(await client.PostAsync("/v1/predict", Json("{\"items\": [{\"adapter\": \"seq\", \"input\": {\"sentence\": \"a\"}}, {\"adapter\": \"seq\", \"input\": \"text\"}]}"), Ct), HttpStatusCode.BadRequest, "bad_input");
        Assert.StartsWith("items[1].input:", e.GetProperty("error").GetProperty("message").GetString());
        e = await Expect(await client.PostAsync("/v1/predict", Json(PredictBody(("seq", good), ("mc", good))), Ct), HttpStatusCode.BadRequest, "bad_input");
        Assert.StartsWith("items[1].input: missing field \"context\" or \"premise\"", e.GetProperty("error").GetProperty("message").GetString());
        await Expect(await client.PostAsync("/v1/predict", Json("{\"items\": [{\"adapter\": \"seq\", \"input\": {\"sentence\": \"a\"}}], \"timeout_ms\": -5}"), Ct), HttpStatusCode.BadRequest, "bad_input");
        e = await Expect(await client.PostAsync("/v1/predict", Json(PredictBody(("seq", good), ("nope", good))), Ct), HttpStatusCode.NotFound, "unknown_adapter");
        Assert.StartsWith("items[1].adapter: no adapter named 'nope'", e.GetProperty("error").GetProperty("message").GetString());
        await Expect(await client.GetAsync("/v1/adapters/nope", Ct), HttpStatusCode.NotFound, "unknown_adapter");
        var list = await Expect(await client.GetAsync("/v1/adapters", Ct), HttpStatusCode.OK);
        Assert.Equal(Names.Order(), list.GetProperty("adapters").EnumerateArray().Select(a => a.GetProperty("name").GetString()!));
        var seq = await Expect(await client.GetAsync("/v1/adapters/seq", Ct), HttpStatusCode.OK);
        Assert.Equal(("seqcls", 3, HostTestKit.MaxLen), (seq.GetProperty("task").GetString(), seq.GetProperty("prefix_length").GetInt32(), seq.GetProperty("max_seq_length").GetInt32()));
    }

    [Fact]
    public async Task Size_and_item_limits_give_413_whatever_the_framing()
    {
        var (client, _) = await Start(new FastPrefixServingOptions { MaxRequestBytes = 400, MaxItems = 2 });
        var good = HostTestKit.Parse("{\"sentence\": \"good\"}");
        await Expect(await client.PostAsync("/v1/predict", Json(PredictBody(("seq", good), ("seq", good), ("seq", good))), Ct), HttpStatusCode.RequestEntityTooLarge, "too_large");
        string big = PredictBody(("seq", HostTestKit.Parse(JsonSerializer.Serialize(new { sentence = string.Join(' ', Enumerable.Repeat("good", 200)) }))));
        await Expect(await client.PostAsync("/v1/predict", Json(big), Ct), HttpStatusCode.RequestEntityTooLarge, "too_large");
        var chunked = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(big)));   // no Content-Length: chunked
        chunked.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/predict") { Content = chunked };
        request.Headers.TransferEncodingChunked = true;
        await Expect(await client.SendAsync(request, Ct), HttpStatusCode.RequestEntityTooLarge, "too_large");
        await Expect(await client.PostAsync("/v1/predict", Json(PredictBody(("seq", good))), Ct), HttpStatusCode.OK);
    }

    [Fact]
    public async Task Overload_is_503_at_once_and_a_passed_deadline_504()
    {
        var (client, host) = await Start(hostOptions: new AdapterHostOptions { MaxQueuedRecords = 2, MaxBatchRows = 64, MaxWait = TimeSpan.FromSeconds(30) });
        var good = HostTestKit.Parse("{\"sentence\": \"good\"}");
        var waiting = client.PostAsync("/v1/predict", Json(PredictBody(("seq", good), ("seq", good))), Ct);
        for (int i = 0; i < 500 && host.QueuedRecords < 2; i++) await Task.Delay(10, Ct);
        var refused = await client.PostAsync("/v1/predict", Json(PredictBody(("seq", good))), Ct);
        await Expect(refused, HttpStatusCode.ServiceUnavailable, "overloaded");
        Assert.Equal("1", refused.Headers.RetryAfter?.ToString());
        await host.StopAsync(Ct);   // closes the waiting pass: the accepted request is answered
        Assert.Equal(2, (await Expect(await waiting, HttpStatusCode.OK)).GetProperty("results").GetArrayLength());
        await Expect(await client.PostAsync("/v1/predict", Json(PredictBody(("seq", good))), Ct), HttpStatusCode.ServiceUnavailable, "shutting_down");

        var (client2, _) = await Start(hostOptions: new AdapterHostOptions { MaxBatchRows = 64, MaxWait = TimeSpan.FromSeconds(30) });
        var late = await client2.PostAsync("/v1/predict", Json("{\"items\": [{\"adapter\": \"seq\", \"input\": {\"sentence\": \"a\"}}], \"timeout_ms\": 100}"), Ct);
        await Expect(late, HttpStatusCode.GatewayTimeout, "deadline_exceeded");
    }

    [Fact]
    public async Task The_API_key_guards_everything_but_healthz()
    {
        var (client, _) = await Start(new FastPrefixServingOptions { ApiKey = "s3cret" });
        string body = PredictBody(("seq", HostTestKit.Parse("{\"sentence\": \"good\"}")));
        var refused = await client.PostAsync("/v1/predict", Json(body), Ct);
        await Expect(refused, HttpStatusCode.Unauthorized, "unauthorized");
        Assert.Equal("Bearer", refused.Headers.WwwAuthenticate.ToString());
        await Expect(await client.GetAsync("/v1/adapters", Ct), HttpStatusCode.Unauthorized, "unauthorized");
        await Expect(await client.GetAsync("/metrics", Ct), HttpStatusCode.Unauthorized, "unauthorized");
        await Expect(await client.GetAsync("/openapi/v1.json", Ct), HttpStatusCode.Unauthorized, "unauthorized");
        var wrong = new HttpRequestMessage(HttpMethod.Get, "/v1/adapters");
        wrong.Headers.Add("X-API-Key", "s3cret!");
        await Expect(await client.SendAsync(wrong, Ct), HttpStatusCode.Unauthorized, "unauthorized");
        await Expect(await client.GetAsync("/healthz", Ct), HttpStatusCode.OK);

        var bearer = new HttpRequestMessage(HttpMethod.Post, "/v1/predict") { Content = Json(body) };
        bearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "s3cret");
        await Expect(await client.SendAsync(bearer, Ct), HttpStatusCode.OK);
        var header = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        header.Headers.Add("X-API-Key", "s3cret");
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(header, Ct)).StatusCode);
    }

    [Fact]
    public async Task Adapters_load_and_unload_only_from_the_configured_folder_when_enabled()
    {
        var (off, _) = await Start();
        await Expect(await off.PostAsync("/v1/adapters/x", Json("{}"), Ct), HttpStatusCode.Forbidden, "management_disabled");
        await Expect(await off.DeleteAsync("/v1/adapters/seq", Ct), HttpStatusCode.Forbidden, "management_disabled");

        using var folder = new Adapters.TempDir();
        File.Copy(_kit.Adapter("extra", TaskKind.SequenceClassification, seed: 99), folder["extra.safetensors"]);
        Directory.CreateDirectory(folder["sub"]);
        File.Copy(folder["extra.safetensors"], folder["sub/nested.safetensors"]);
        string outside = _kit.Dir["outside.safetensors"];
        File.Copy(folder["extra.safetensors"], outside);
        File.CreateSymbolicLink(folder["link.safetensors"], outside);
        File.CreateSymbolicLink(folder["inner.safetensors"], folder["extra.safetensors"]);
        Directory.CreateSymbolicLink(folder["dirlink"], _kit.Dir.Path);
        var (client, host) = await Start(new FastPrefixServingOptions { AdapterFolder = folder.Path });

        var created = await Expect(await client.PostAsync("/v1/adapters/extra", null, Ct), HttpStatusCode.Created);   // default: extra.safetensors
        Assert.Equal(1, created.GetProperty("version").GetInt32());
        var replaced = await Expect(await client.PostAsync("/v1/adapters/extra", Json("{\"path\": \"sub/nested.safetensors\"}"), Ct), HttpStatusCode.OK);
        Assert.Equal(2, replaced.GetProperty("version").GetInt32());
        await Expect(await client.PostAsync("/v1/adapters/inner", Json("{\"path\": \"inner.safetensors\"}"), Ct), HttpStatusCode.Created);   // a link that stays inside
        await Expect(await client.PostAsync("/v1/predict", Json(PredictBody(("extra", HostTestKit.Parse("{\"sentence\": \"good\"}")))), Ct), HttpStatusCode.OK);

        foreach (var path in new[] { "../outside.safetensors", outside, "sub/../../outside.safetensors", "link.safetensors", "dirlink/outside.safetensors",
                     "sub/../sub/../../x", "~/x.safetensors", "" })
            await Expect(await client.PostAsync("/v1/adapters/evil", Json(JsonSerializer.Serialize(new { path })), Ct), HttpStatusCode.BadRequest, "bad_input");
        await Expect(await client.PostAsync("/v1/adapters/evil", Json("{\"path\": \"missing.safetensors\"}"), Ct), HttpStatusCode.NotFound, "not_found");
        foreach (var name in new[] { "..%2F..%2Fetc", "a%20b", ".hidden" })
        {
            var r = await client.PostAsync("/v1/adapters/" + name, Json("{}"), Ct);
            Assert.True(r.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound, $"{name}: {(int)r.StatusCode}");
        }
        Assert.DoesNotContain("evil", host.Adapters.Select(a => a.Name));
        File.WriteAllText(folder["broken.safetensors"], "{}");
        await Expect(await client.PostAsync("/v1/adapters/broken", null, Ct), HttpStatusCode.BadRequest, "bad_adapter");

        await Expect(await client.DeleteAsync("/v1/adapters/extra", Ct), HttpStatusCode.NoContent);
        await Expect(await client.DeleteAsync("/v1/adapters/extra", Ct), HttpStatusCode.NotFound, "unknown_adapter");
        await Expect(await client.PostAsync("/v1/predict", Json(PredictBody(("extra", HostTestKit.Parse("{\"sentence\": \"good\"}")))), Ct), HttpStatusCode.NotFound, "unknown_adapter");
    }

    [Fact]
    public async Task Metrics_and_OpenAPI_describe_the_server()
    {
        var (client, _) = await Start();
        await Expect(await client.PostAsync("/v1/predict", Json(PredictBody(("seq", HostTestKit.Parse("{\"sentence\": \"good\"}")), ("tok", HostTestKit.Parse("{\"words\": [\"john\"]}")))), Ct), HttpStatusCode.OK);
        await client.PostAsync("/v1/predict", Json(PredictBody(("nope", HostTestKit.Parse("{}")))), Ct);
        // (hosts of tests running in parallel report to the same meter name, so counts are checked as present, not exact)
        var metrics = await client.GetStringAsync("/metrics", Ct);
        foreach (var expected in new[]
                 {
                     "fastprefix_host_records_total{otel_scope_name=\"FastPrefix.Inference\",outcome=\"ok\"}",
                     "fastprefix_host_records_total{otel_scope_name=\"FastPrefix.Inference\",outcome=\"rejected\"}",
                     "fastprefix_host_pass_rows_bucket", "fastprefix_host_pass_adapters_bucket", "fastprefix_host_queue_depth",
                     "fastprefix_host_request_duration_seconds_bucket", "http_server_request_duration_seconds_bucket",
                     "http_route=\"/v1/predict\"", "http_response_status_code=\"404\"",
                 })
            Assert.Contains(expected, metrics);

        var doc = await Body(await client.GetAsync("/openapi/v1.json", Ct));
        var paths = doc.GetProperty("paths");
        foreach (var (path, method) in new[] { ("/v1/predict", "post"), ("/v1/adapters", "get"), ("/v1/adapters/{name}", "get"), ("/v1/adapters/{name}", "post"),
                     ("/v1/adapters/{name}", "delete"), ("/healthz", "get") })
            Assert.True(paths.GetProperty(path).TryGetProperty(method, out _), $"{method} {path} missing from the OpenAPI description");
        var request = doc.GetProperty("components").GetProperty("schemas").GetProperty("PredictRequest").GetProperty("properties");
        Assert.Equal(["items", "timeout_ms"], request.EnumerateObject().Select(p => p.Name));
        Assert.True(paths.GetProperty("/v1/predict").GetProperty("post").GetProperty("responses").TryGetProperty("503", out _));
    }

    [Fact]
    public void Serve_finishes_the_requests_in_flight_on_SIGTERM()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "sends SIGTERM through libc's kill()");
        string adapter = _kit.Adapter("seq", TaskKind.SequenceClassification);
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "fastprefix.dll"), "serve", "--model", _kit.Model, "--adapters", "seq=" + adapter,
                     "--port", "0", "--device", "cpu", "--max-wait-ms", "20000", "--max-batch-rows", "64" })
            psi.ArgumentList.Add(a);
        using var process = System.Diagnostics.Process.Start(psi)!;
        process.StandardInput.Close();
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) => { lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginErrorReadLine();
        try
        {
            string? line = process.StandardOutput.ReadLine();
            Assert.True(line?.StartsWith("serving 1 adapter (seq) on http://127.0.0.1:") == true, $"{line}\n{stderr}");
            var address = new Uri(line!.Split(' ').First(w => w.StartsWith("http://")));
            using var client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
            // the record waits up to 20 s for its pass; SIGTERM arrives once the server holds it (its queue gauge says so,
            // however slow this machine is), and the answer must still come
            HttpResponseMessage? response = null;
            Exception? failure = null;
            var sender = new Thread(() =>
            {
                try { response = client.Send(new HttpRequestMessage(HttpMethod.Post, "/v1/predict") { Content = Json(PredictBody(("seq", HostTestKit.Parse("{\"sentence\": \"good\"}")))) }); }
                catch (Exception e) { failure = e; }
            });
            sender.Start();
            var queued = System.Diagnostics.Stopwatch.StartNew();
            while (!QueueHolds(client) && queued.Elapsed < TimeSpan.FromSeconds(15)) Thread.Sleep(50);
            Assert.True(queued.Elapsed < TimeSpan.FromSeconds(15), "the request never reached the server's queue");
            Assert.Equal(0, Kill(process.Id, 15));   // SIGTERM
            var drained = System.Diagnostics.Stopwatch.StartNew();
            Assert.True(sender.Join(TimeSpan.FromSeconds(30)), "the in-flight request did not finish");
            // The stopping server runs the waiting pass at once instead of after its 20 s batch window.
            Assert.True(drained.Elapsed < TimeSpan.FromSeconds(12), $"the in-flight request took {drained.Elapsed.TotalSeconds:F1} s after SIGTERM");
            Assert.Null(failure);
            Assert.Equal(HttpStatusCode.OK, response!.StatusCode);
            Assert.Single(JsonDocument.Parse(response.Content.ReadAsStream()).RootElement.GetProperty("results").EnumerateArray());
            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), "serve did not exit after SIGTERM");
            Assert.Equal(0, process.ExitCode);
            Assert.Contains("stopped", process.StandardOutput.ReadToEnd());
        }
        finally { if (!process.HasExited) process.Kill(true); }
    }

    /// <summary>True when the server's queue-depth gauge shows a waiting record.</summary>
    static bool QueueHolds(HttpClient client)
    {
        string metrics = client.GetStringAsync("/metrics").GetAwaiter().GetResult();
        return metrics.Split('\n').Any(l => l.StartsWith("fastprefix_host_queue_depth", StringComparison.Ordinal) &&
            double.TryParse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture, out double v) && v >= 1);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    static extern int Kill(int pid, int signal);
}
