using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace FastPrefix.Serving;

/// <summary>The optional API key: "Authorization: Bearer KEY" or "X-API-Key: KEY", compared in constant time.</summary>
internal sealed class ApiKeyCheck(string? key)
{
    readonly byte[]? _key = key == null ? null : Encoding.UTF8.GetBytes(key);

    bool Allows(HttpRequest request)
    {
        if (_key == null) return true;
        string? given = request.Headers["X-API-Key"].FirstOrDefault();
        var auth = request.Headers.Authorization.FirstOrDefault();
        if (given == null && auth != null && auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) given = auth[7..].Trim();
        return given != null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), _key);
    }

    static IResult Refusal(HttpContext context)
    {
        context.Response.Headers.WWWAuthenticate = "Bearer";
        return ApiErrors.Result(StatusCodes.Status401Unauthorized, "unauthorized", "missing or wrong API key: send \"Authorization: Bearer KEY\" or \"X-API-Key: KEY\"");
    }

    /// <summary>For the route handlers.</summary>
    public async ValueTask<object?> Filter(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        Allows(context.HttpContext.Request) ? await next(context) : Refusal(context.HttpContext);

    /// <summary>For the Prometheus scraping branch, which is middleware rather than a route handler.</summary>
    public async Task Middleware(HttpContext context, Func<Task> next)
    {
        if (Allows(context.Request)) await next();
        else await Refusal(context).ExecuteAsync(context);
    }
}
