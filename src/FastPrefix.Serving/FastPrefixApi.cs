using System.Text.Json;
using FastPrefix.Inference;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace FastPrefix.Serving;

/// <summary>The handlers of <see cref="FastPrefixEndpoints"/>: request checks, the host call, the response.</summary>
internal sealed class FastPrefixApi(AdapterHost host, FastPrefixServingOptions options, CancellationToken stopping)
{
    public IResult Health()
    {
        bool up = !stopping.IsCancellationRequested;
        return Results.Json(new Health(up ? "ok" : "stopping", host.Backend, host.Adapters.Count, host.QueuedRecords), ServingJson.Default.Health,
            statusCode: up ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }

    public IResult List() => Results.Json(new AdapterList(host.Adapters), ServingJson.Default.AdapterList);

    public IResult Get(string name) => host.TryGetAdapter(name, out var info)
        ? Results.Json(info, ServingJson.Default.AdapterInfo)
        : ApiErrors.Result(StatusCodes.Status404NotFound, "unknown_adapter", $"no adapter named '{name}' is loaded");

    public async Task<IResult> PredictAsync(HttpContext context, CancellationToken aborted)
    {
        var (body, tooLarge) = await ReadBodyAsync(context);
        if (tooLarge != null) return tooLarge;
        JsonDocument doc;
        try { doc = JsonDocument.Parse(body); }
        catch (JsonException e) { return ApiErrors.BadInput($"the request body is not valid JSON: {e.Message}"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return ApiErrors.BadInput("the request body must be a JSON object {\"items\": [...]}");
            if (!root.TryGetProperty("items", out var items) || items.ValueKind != JsonValueKind.Array)
                return ApiErrors.BadInput("items: expected an array of {\"adapter\": NAME, \"input\": RECORD}");
            int count = items.GetArrayLength();
            if (count == 0) return ApiErrors.BadInput("items: the array is empty");
            if (count > options.MaxItems) return ApiErrors.TooLarge($"items: {count} items, more than the limit of {options.MaxItems} per request");
            var work = new PredictItem[count];
            int i = 0;
            foreach (var item in items.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Object) return ApiErrors.BadInput($"items[{i}]: expected an object {{\"adapter\": NAME, \"input\": RECORD}}");
                if (!item.TryGetProperty("adapter", out var a) || a.ValueKind != JsonValueKind.String)
                    return ApiErrors.BadInput($"items[{i}].adapter: expected the adapter's name as a string");
                if (!item.TryGetProperty("input", out var input) || input.ValueKind != JsonValueKind.Object)
                    return ApiErrors.BadInput($"items[{i}].input: expected the record as a JSON object");
                work[i++] = new PredictItem(a.GetString()!, input);
            }
            TimeSpan? timeout = options.DefaultTimeout;
            if (root.TryGetProperty("timeout_ms", out var t) && t.ValueKind != JsonValueKind.Null)
            {
                if (!t.TryGetInt32(out int ms) || ms <= 0) return ApiErrors.BadInput("timeout_ms: expected a positive integer number of milliseconds");
                timeout = TimeSpan.FromMilliseconds(ms);
            }
            try
            {
                var predictions = await host.PredictAsync(work, new PredictOptions { Timeout = timeout }, aborted);
                return new PredictionsResult(predictions);
            }
            catch (AdapterHostException e) { return ApiErrors.From(e, context.Response); }
            catch (OperationCanceledException) when (aborted.IsCancellationRequested) { return Results.Empty; }   // the client left
        }
    }

    public async Task<IResult> LoadAsync(string name, HttpContext context)
    {
        if (options.AdapterFolder == null) return ManagementOff();
        if (!AdapterHost.IsValidName(name))
            return ApiErrors.BadInput($"name: '{name}' is not a valid adapter name (1-64 letters, digits, '.', '_' or '-', starting with a letter or digit)");
        var (body, tooLarge) = await ReadBodyAsync(context);
        if (tooLarge != null) return tooLarge;
        string? path = null;
        if (body.Length > 0)
        {
            try { path = JsonSerializer.Deserialize(body, ServingJson.Default.LoadAdapterRequest)?.Path; }
            catch (JsonException e) { return ApiErrors.BadInput($"the request body is not a JSON object {{\"path\": \"…\"}}: {e.Message}"); }
        }
        path ??= File.Exists(Path.Combine(options.AdapterFolder, name + ".safetensors")) ? name + ".safetensors" : name;
        var (full, error, notFound) = AdapterFolderPaths.Resolve(options.AdapterFolder, path);
        if (full == null)
            return notFound ? ApiErrors.Result(StatusCodes.Status404NotFound, "not_found", $"path: {error}") : ApiErrors.BadInput($"path: {error}");
        bool existed = host.TryGetAdapter(name, out _);
        try
        {
            var info = await host.LoadAsync(name, full, context.RequestAborted);
            return existed
                ? Results.Json(info, ServingJson.Default.AdapterInfo)
                : Results.Json(info, ServingJson.Default.AdapterInfo, statusCode: StatusCodes.Status201Created);
        }
        catch (AdapterHostException e) { return ApiErrors.From(e, context.Response); }
    }

    public IResult Unload(string name)
    {
        if (options.AdapterFolder == null) return ManagementOff();
        return host.Remove(name) ? Results.NoContent()
            : ApiErrors.Result(StatusCodes.Status404NotFound, "unknown_adapter", $"no adapter named '{name}' is loaded");
    }

    static IResult ManagementOff() => ApiErrors.Result(StatusCodes.Status403Forbidden, "management_disabled",
        "loading and unloading adapters over HTTP is off; start the server with an adapter folder and --allow-adapter-management");

    /// <summary>The whole body, or 413 once it passes the limit (whatever Content-Length says, chunked bodies included).</summary>
    async Task<(byte[] Body, IResult? TooLarge)> ReadBodyAsync(HttpContext context)
    {
        long max = options.MaxRequestBytes;
        IResult Refuse(long n)
        {
            context.Response.Headers.Connection = "close";   // the rest of the body is not read: the connection cannot carry another request
            return ApiErrors.TooLarge($"the request body is {(n > max ? $"{n} bytes" : "larger")}; the limit is {max} bytes");
        }
        if (context.Request.ContentLength is long declared && declared > max) return ([], Refuse(declared));
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = max + 1;
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        try
        {
            int n;
            while ((n = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
            {
                buffer.Write(chunk, 0, n);
                if (buffer.Length > max) return ([], Refuse(-1));
            }
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge) { return ([], Refuse(-1)); }
        return (buffer.ToArray(), null);
    }

    /// <summary>{"results": [...]}, each prediction written by <see cref="Prediction.WriteJson"/>, as `fastprefix predict` prints it.</summary>
    sealed class PredictionsResult(Prediction[] predictions) : IResult
    {
        public async Task ExecuteAsync(HttpContext context)
        {
            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "application/json; charset=utf-8";
            await using var writer = new Utf8JsonWriter(context.Response.Body);
            writer.WriteStartObject();
            writer.WriteStartArray("results");
            foreach (var p in predictions) p.WriteJson(writer);
            writer.WriteEndArray();
            writer.WriteEndObject();
            await writer.FlushAsync(context.RequestAborted);
        }
    }
}
