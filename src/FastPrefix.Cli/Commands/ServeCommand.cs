using System.CommandLine;
using FastPrefix.Adapters;
using FastPrefix.Inference;
using FastPrefix.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;

namespace FastPrefix.Cli.Commands;

/// <summary>`fastprefix serve`: many adapters on one backbone behind an HTTP/JSON API, with mixed-adapter batching.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var adapters = new Option<string[]>("--adapters")
        {
            Description = "Adapters to serve: a folder (every *.safetensors file and PEFT sub-folder, named after the file or folder) and/or name=path pairs",
            AllowMultipleArgumentsPerToken = true,
        };
        var host = new Option<string>("--host") { Description = "Address to bind (127.0.0.1: this machine only; 0.0.0.0 for every interface)", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port to listen on", DefaultValueFactory = _ => 8080 };
        var device = CommonOptions.Device();
        var precision = CommonOptions.Precision();
        var maxRows = new Option<int>("--max-batch-rows") { Description = "A pass closes at this many encoder rows…", DefaultValueFactory = _ => 32 };
        var maxWait = new Option<double>("--max-wait-ms") { Description = "…or when its oldest record has waited this long", DefaultValueFactory = _ => 5 };
        var maxQueue = new Option<int>("--max-queue") { Description = "Records that may wait; beyond it requests get 503 at once", DefaultValueFactory = _ => 1024 };
        var maxItems = new Option<int>("--max-items") { Description = "Items per predict request (413 above)", DefaultValueFactory = _ => 256 };
        var maxBytes = new Option<long>("--max-request-bytes") { Description = "Request body size limit (413 above)", DefaultValueFactory = _ => 1 << 20 };
        var timeout = new Option<int?>("--timeout-ms") { Description = "Default deadline of a predict request (504 when passed); requests may set timeout_ms" };
        var apiKey = new Option<string?>("--api-key") { Description = "Require this key (Authorization: Bearer KEY or X-API-Key) on all but /healthz; default: $FASTPREFIX_API_KEY if set" };
        var manage = new Option<bool>("--allow-adapter-management") { Description = "Enable POST/DELETE /v1/adapters/{name}, loading only from the one --adapters folder" };
        var batching = new Option<string>("--batching") { Description = "mixed (rows of different adapters share a pass) | per-adapter", DefaultValueFactory = _ => "mixed" };
        var command = new Command("serve", "Serve adapters over HTTP: POST /v1/predict, /v1/adapters, /healthz, /metrics, /openapi/v1.json")
        {
            model, adapters, host, port, device, precision, maxRows, maxWait, maxQueue, maxItems, maxBytes, timeout, apiKey, manage, batching,
        };
        command.SetAction(p => CliErrors.Run(() => Execute(p.GetValue(model)!, p.GetValue(adapters) ?? [], new ServerOptions
        {
            Host = p.GetValue(host)!, Port = p.GetValue(port),
            Serving = new FastPrefixServingOptions
            {
                MaxItems = p.GetValue(maxItems), MaxRequestBytes = p.GetValue(maxBytes),
                DefaultTimeout = p.GetValue(timeout) is int ms ? TimeSpan.FromMilliseconds(ms) : null,
                ApiKey = p.GetValue(apiKey) ?? NullIfEmpty(Environment.GetEnvironmentVariable("FASTPREFIX_API_KEY")),
            },
        }, new AdapterHostOptions
        {
            Device = p.GetValue(device)!, Precision = p.GetValue(precision), MaxBatchRows = p.GetValue(maxRows), MaxWait = TimeSpan.FromMilliseconds(p.GetValue(maxWait)),
            MaxQueuedRecords = p.GetValue(maxQueue), Batching = ParseBatching(p.GetValue(batching)!),
        }, p.GetValue(manage))));
        return command;
    }

    static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;

    static BatchingMode ParseBatching(string s) => s switch
    {
        "mixed" => BatchingMode.MixedAdapters,
        "per-adapter" => BatchingMode.OneAdapterPerPass,
        _ => throw new UserInputException($"--batching '{s}': expected mixed or per-adapter"),
    };

    public static int Execute(string modelDir, IReadOnlyList<string> adapterArgs, ServerOptions server, AdapterHostOptions hostOptions, bool manage)
    {
        var (named, folders) = AdapterArguments(adapterArgs);
        if (manage && folders.Count != 1)
            throw new UserInputException($"--allow-adapter-management needs exactly one folder in --adapters to load from (got {folders.Count})");
        if (named.Count == 0 && !manage)
            throw new UserInputException("--adapters: no adapters found; give a folder of adapter files or name=path pairs");
        server = server with { Serving = server.Serving with { AdapterFolder = manage ? folders[0] : null } };
        Validate(server, hostOptions);

        var host = AdapterHost.Open(modelDir, hostOptions with { Notice = n => Console.Error.WriteLine(n) });
        try
        {
            foreach (var (name, path) in named) host.LoadAsync(name, path).GetAwaiter().GetResult();
            var app = FastPrefixServer.Create(host, server);
            try { app.StartAsync().GetAwaiter().GetResult(); }
            catch (IOException e) { throw new UserInputException($"--host {server.Host} --port {server.Port}: cannot listen ({e.Message})"); }
            Console.WriteLine($"serving {named.Count} adapter{(named.Count == 1 ? "" : "s")} ({string.Join(", ", named.Select(n => n.Name))}) on " +
                              $"{FastPrefixServer.Address(app)} with the {host.Backend} backend; Ctrl+C or SIGTERM stops after the requests in flight");
            app.WaitForShutdownAsync().GetAwaiter().GetResult();
            Console.WriteLine($"stopping: answering {host.QueuedRecords} queued records");
            ((IAsyncDisposable)app).DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        finally { host.Dispose(); }
        Console.WriteLine("stopped");
        return 0;
    }

    static void Validate(ServerOptions server, AdapterHostOptions host)
    {
        if (host.MaxBatchRows <= 0) throw new UserInputException($"--max-batch-rows must be positive, got {host.MaxBatchRows}");
        if (host.MaxWait < TimeSpan.Zero) throw new UserInputException($"--max-wait-ms must not be negative, got {host.MaxWait.TotalMilliseconds}");
        if (host.MaxQueuedRecords <= 0) throw new UserInputException($"--max-queue must be positive, got {host.MaxQueuedRecords}");
        if (server.Serving.MaxItems <= 0) throw new UserInputException($"--max-items must be positive, got {server.Serving.MaxItems}");
        if (server.Serving.MaxRequestBytes <= 0) throw new UserInputException($"--max-request-bytes must be positive, got {server.Serving.MaxRequestBytes}");
        if (server.Serving.DefaultTimeout is { } t && t <= TimeSpan.Zero) throw new UserInputException($"--timeout-ms must be positive, got {t.TotalMilliseconds}");
    }

    /// <summary>name=path pairs as given, and each folder's adapters: *.safetensors files and PEFT sub-folders, named after them.</summary>
    static (List<(string Name, string Path)> Named, List<string> Folders) AdapterArguments(IReadOnlyList<string> args)
    {
        var named = new List<(string, string)>();
        var folders = new List<string>();
        foreach (var arg in args)
        {
            int eq = arg.IndexOf('=');
            if (eq > 0)
            {
                named.Add((arg[..eq], arg[(eq + 1)..]));
                continue;
            }
            if (!Directory.Exists(arg)) throw new UserInputException($"--adapters {arg}: not a folder (give a folder or name=path)");
            folders.Add(Path.GetFullPath(arg));
            foreach (var file in Directory.EnumerateFiles(arg, "*.safetensors").Order(StringComparer.Ordinal))
                named.Add((Path.GetFileNameWithoutExtension(file), file));
            foreach (var dir in Directory.EnumerateDirectories(arg).Order(StringComparer.Ordinal))
                if (File.Exists(Path.Combine(dir, PeftPrefixAdapter.ConfigFileName))) named.Add((Path.GetFileName(dir), dir));
        }
        var dup = named.GroupBy(n => n.Item1).FirstOrDefault(g => g.Count() > 1);
        if (dup != null) throw new UserInputException($"--adapters: the name '{dup.Key}' is given twice ({string.Join(", ", dup.Select(d => d.Item2))})");
        return (named, folders);
    }
}
