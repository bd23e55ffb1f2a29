using FastPrefix.Inference;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;

namespace FastPrefix.Serving;

/// <summary>
/// The FastPrefix HTTP API over an <see cref="AdapterHost"/>, mappable into any ASP.NET Core application:
/// <code>
/// builder.Services.AddFastPrefixServing();
/// var app = builder.Build();
/// app.MapFastPrefix(host, new FastPrefixServingOptions { ApiKey = "…" });
/// </code>
/// POST /v1/predict, GET /v1/adapters, GET|POST|DELETE /v1/adapters/{name}, GET /healthz, GET /metrics (Prometheus
/// text), GET /openapi/v1.json. Errors are {"error": {"code", "message"}} with 400 bad input, 401 missing or wrong API
/// key, 403 adapter management off, 404 unknown adapter, 413 too large, 503 overloaded or stopping, 504 deadline exceeded.
/// </summary>
public static class FastPrefixEndpoints
{
    public const string MetricsPath = "/metrics", OpenApiPath = "/openapi/{documentName}.json";

    public static IEndpointRouteBuilder MapFastPrefix(this IEndpointRouteBuilder endpoints, AdapterHost host, FastPrefixServingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        options ??= new FastPrefixServingOptions();
        options.Validate();
        var services = endpoints.ServiceProvider;
        if (services.GetService<MeterProvider>() == null)
            throw new InvalidOperationException("MapFastPrefix needs the FastPrefix services: call builder.Services.AddFastPrefixServing() before building the app");
        var stopping = services.GetService<IHostApplicationLifetime>()?.ApplicationStopping ?? CancellationToken.None;
        // The server drains its requests in flight before the host is stopped: their passes must not wait for MaxWait.
        stopping.Register(host.Hurry);
        var api = new FastPrefixApi(host, options, stopping);
        var key = new ApiKeyCheck(options.ApiKey);

        endpoints.MapGet("/healthz", () => api.Health())
            .WithName("Health").WithSummary("Liveness and readiness: 200 while serving, 503 once shutting down")
            .Produces<Health>().Produces<Health>(StatusCodes.Status503ServiceUnavailable);

        var v1 = endpoints.MapGroup("/v1").AddEndpointFilter(key.Filter);
        v1.MapPost("/predict", (HttpContext context, CancellationToken aborted) => api.PredictAsync(context, aborted))
            .WithName("Predict").WithSummary("Predict records with their adapters; rows of different adapters share encoder passes")
            .Accepts<PredictRequest>("application/json").Produces<PredictResponse>()
            .Produces<ErrorResponse>(StatusCodes.Status400BadRequest).Produces<ErrorResponse>(StatusCodes.Status401Unauthorized)
            .Produces<ErrorResponse>(StatusCodes.Status404NotFound).Produces<ErrorResponse>(StatusCodes.Status413PayloadTooLarge)
            .Produces<ErrorResponse>(StatusCodes.Status503ServiceUnavailable).Produces<ErrorResponse>(StatusCodes.Status504GatewayTimeout);
        v1.MapGet("/adapters", () => api.List())
            .WithName("ListAdapters").WithSummary("The loaded adapters and their metadata").Produces<AdapterList>();
        v1.MapGet("/adapters/{name}", (string name) => api.Get(name))
            .WithName("GetAdapter").WithSummary("One loaded adapter's metadata").Produces<AdapterInfo>().Produces<ErrorResponse>(StatusCodes.Status404NotFound);
        v1.MapPost("/adapters/{name}", (string name, HttpContext context) => api.LoadAsync(name, context))
            .WithName("LoadAdapter").WithSummary("Load or replace an adapter from the server's adapter folder (when enabled)")
            .Accepts<LoadAdapterRequest>("application/json").Produces<AdapterInfo>().Produces<AdapterInfo>(StatusCodes.Status201Created)
            .Produces<ErrorResponse>(StatusCodes.Status400BadRequest).Produces<ErrorResponse>(StatusCodes.Status403Forbidden)
            .Produces<ErrorResponse>(StatusCodes.Status404NotFound);
        v1.MapDelete("/adapters/{name}", (string name) => api.Unload(name))
            .WithName("UnloadAdapter").WithSummary("Unload an adapter (when enabled); its accepted requests still finish")
            .Produces(StatusCodes.Status204NoContent).Produces<ErrorResponse>(StatusCodes.Status403Forbidden).Produces<ErrorResponse>(StatusCodes.Status404NotFound);

        endpoints.MapPrometheusScrapingEndpoint(MetricsPath, null, branch => branch.Use(key.Middleware), null);
        endpoints.MapOpenApi(OpenApiPath).AddEndpointFilter(key.Filter);
        return endpoints;
    }
}
