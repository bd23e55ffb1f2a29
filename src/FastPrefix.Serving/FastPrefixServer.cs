using System.Net;
using FastPrefix.Inference;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FastPrefix.Serving;

/// <summary>Where and how long `fastprefix serve` listens and shuts down.</summary>
public sealed record ServerOptions
{
    /// <summary>Address to bind: 127.0.0.1 (default, this machine only), ::1, or 0.0.0.0 / :: for every interface.</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>Port (0: any free port, see <see cref="FastPrefixServer.Address"/>).</summary>
    public int Port { get; init; } = 8080;
    /// <summary>On SIGTERM or Ctrl+C, how long in-flight requests may take to finish before the server closes.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public FastPrefixServingOptions Serving { get; init; } = new();
}

/// <summary>A stand-alone Kestrel server with only the FastPrefix endpoints: what `fastprefix serve` runs.</summary>
public static class FastPrefixServer
{
    public static WebApplication Create(AdapterHost host, ServerOptions options)
    {
        if (!IPAddress.TryParse(options.Host, out var ip))
            throw new ArgumentException($"--host '{options.Host}' is not an IP address (e.g. 127.0.0.1, ::1, 0.0.0.0)");
        if (options.Port is < 0 or > 65535) throw new ArgumentException($"--port {options.Port} is outside 0..65535");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = options.Serving.MaxRequestBytes + 1;   // the endpoints answer 413 themselves
            k.Listen(ip, options.Port);
        });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownTimeout);
        builder.Services.AddFastPrefixServing();
        var app = builder.Build();
        app.MapFastPrefix(host, options.Serving);
        return app;
    }

    /// <summary>The base address a started server listens on, e.g. http://127.0.0.1:8080.</summary>
    public static Uri Address(WebApplication app) => new(app.Urls.First());
}
