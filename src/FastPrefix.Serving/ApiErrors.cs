using FastPrefix.Inference;
using Microsoft.AspNetCore.Http;

namespace FastPrefix.Serving;

/// <summary>Error bodies and the status code of each host error.</summary>
internal static class ApiErrors
{
    public static IResult Result(int status, string code, string message) =>
        Results.Json(new ErrorResponse(new ErrorBody(code, message)), ServingJson.Default.ErrorResponse, statusCode: status);

    public static IResult BadInput(string message) => Result(StatusCodes.Status400BadRequest, "bad_input", message);

    public static IResult TooLarge(string message) => Result(StatusCodes.Status413PayloadTooLarge, "too_large", message);

    /// <summary>The response for a host error; overload and shutdown also tell the client when to retry.</summary>
    public static IResult From(AdapterHostException e, HttpResponse response)
    {
        var (status, code) = e.Kind switch
        {
            HostErrorKind.BadInput => (StatusCodes.Status400BadRequest, "bad_input"),
            HostErrorKind.UnknownAdapter => (StatusCodes.Status404NotFound, "unknown_adapter"),
            HostErrorKind.Overloaded => (StatusCodes.Status503ServiceUnavailable, "overloaded"),
            HostErrorKind.DeadlineExceeded => (StatusCodes.Status504GatewayTimeout, "deadline_exceeded"),
            HostErrorKind.ShuttingDown => (StatusCodes.Status503ServiceUnavailable, "shutting_down"),
            HostErrorKind.BadAdapter => (StatusCodes.Status400BadRequest, "bad_adapter"),
            _ => (StatusCodes.Status500InternalServerError, "internal"),
        };
        if (e.Kind is HostErrorKind.Overloaded or HostErrorKind.ShuttingDown) response.Headers.RetryAfter = "1";
        return Result(status, code, e.Message);
    }
}
