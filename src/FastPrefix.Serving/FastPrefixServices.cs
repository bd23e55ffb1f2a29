using System.Text.Json;
using System.Text.Json.Serialization;
using FastPrefix.Inference;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;

namespace FastPrefix.Serving;

public static class FastPrefixServices
{
    /// <summary>
    /// What <see cref="FastPrefixEndpoints.MapFastPrefix"/> needs: the source-generated JSON contracts (no reflection),
    /// the OpenAPI description, and OpenTelemetry metrics — the host's meter plus ASP.NET Core's request and Kestrel
    /// meters — exported in Prometheus text format.
    /// </summary>
    public static IServiceCollection AddFastPrefixServing(this IServiceCollection services)
    {
        services.Configure<JsonOptions>(o =>
        {
            // the contracts as ServingJson writes them, so the OpenAPI schemas name fields as the bodies do
            o.SerializerOptions.TypeInfoResolverChain.Insert(0, ServingJson.Default);
            o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            o.SerializerOptions.NumberHandling = JsonNumberHandling.Strict;
            o.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
        });
        services.AddOpenApi(o => o.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "FastPrefix";
            document.Info.Description = "Many P-Tuning v2 adapters on one frozen encoder; requests for different adapters share encoder passes.";
            return Task.CompletedTask;
        }));
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(AdapterHost.MeterName, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel")
            .AddPrometheusExporter());
        return services;
    }
}
