using System.Text;
using Hutong.Domain;

namespace Hutong.Server.Http;

/// <summary>
/// A JSON response whose status and body the idempotency layer can read and store before it is written,
/// so a replay sends back exactly the same bytes.
/// </summary>
public sealed class ApiResult : IResult, IStatusCodeHttpResult
{
    private ApiResult(int status, string? body, string contentType)
    {
        Status = status;
        Body = body;
        ContentType = contentType;
    }

    public int Status { get; }

    public string? Body { get; }

    public string ContentType { get; }

    public bool Replayed { get; private init; }

    /// <summary>
    /// What the idempotency store keeps instead of <see cref="Body"/>, for answers that carry a secret shown once
    /// (API keys, webhook signing secrets): a replay then says the secret was issued without repeating it.
    /// </summary>
    public string? StoredBody { get; private init; }

    public ApiResult WithoutSecretsWhenStored<T>(T redacted) => new(Status, Body, ContentType) { StoredBody = ApiJson.Serialize(redacted) };

    /// <summary>Sent as the Retry-After header (whole seconds, at least one): the same request may succeed this much later.</summary>
    public TimeSpan? RetryAfter { get; private init; }

    public ApiResult RetryingAfter(TimeSpan after) => new(Status, Body, ContentType) { StoredBody = StoredBody, Replayed = Replayed, RetryAfter = after };

    int? IStatusCodeHttpResult.StatusCode => Status;

    public static ApiResult Json<T>(int status, T value) => new(status, ApiJson.Serialize(value), "application/json; charset=utf-8");

    public static ApiResult Ok<T>(T value) => Json(200, value);

    public static ApiResult Created<T>(T value) => Json(201, value);

    public static ApiResult NoContent() => new(204, null, "application/json; charset=utf-8");

    public static ApiResult Replay(int status, string? body) =>
        new(status, body, status >= 400 ? Problems.ContentType : "application/json; charset=utf-8") { Replayed = true };

    public static ApiResult Problem(int status, string code, string title, string? detail = null, IDictionary<string, string[]>? errors = null, string? param = null) =>
        new(status, ApiJson.Serialize(new ProblemBody(Problems.Type(code), title, status, detail, code, param, errors)), Problems.ContentType);

    /// <summary>
    /// A problem with extension members after the standard ones (RFC 9457 §3.2), such as the state a conflict was checked
    /// against, so the client can build its next try on it without another read.
    /// </summary>
    public static ApiResult Problem<T>(int status, string code, string title, string? detail, T extensions)
    {
        var body = System.Text.Json.JsonSerializer.SerializeToNode(new ProblemBody(Problems.Type(code), title, status, detail, code, null, null), ApiJson.Options)!.AsObject();
        foreach (var (name, value) in System.Text.Json.JsonSerializer.SerializeToNode(extensions, ApiJson.Options)!.AsObject().ToList())
        {
            body.Add(name, value?.DeepClone()); // a standard member's name throws: extensions add, never replace
        }

        return new(status, body.ToJsonString(ApiJson.Options), Problems.ContentType);
    }

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.StatusCode = Status;
        if (Replayed)
        {
            httpContext.Response.Headers["Idempotent-Replayed"] = "true";
        }

        if (RetryAfter is { } after)
        {
            httpContext.Response.Headers.RetryAfter = Math.Max(1, (long)Math.Ceiling(after.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (Body is null)
        {
            return;
        }

        httpContext.Response.ContentType = ContentType;
        var bytes = Encoding.UTF8.GetBytes(Body);
        httpContext.Response.ContentLength = bytes.Length;
        await httpContext.Response.Body.WriteAsync(bytes, httpContext.RequestAborted);
    }
}

/// <summary>RFC 9457 problem details with a stable machine-readable <c>code</c> extension.</summary>
public sealed record ProblemBody(string Type, string Title, int Status, string? Detail, string Code, string? Param, IDictionary<string, string[]>? Errors);

public static class Problems
{
    public const string ContentType = "application/problem+json; charset=utf-8";

    public static string Type(string code) => $"urn:hutong:problem:{code}";

    // The wording of these lives with Failure (Hutong.Domain), which services return; these are for the edge itself.
    public static ApiResult Invalid(string param, string message) => Failure.Invalid(param, message).ToApiResult();

    public static ApiResult NotFound(string what) => Failure.NotFound(what).ToApiResult();

    /// <summary>Gives problems the framework writes itself (404 route, 405, 415, 500) our type URI and a code.</summary>
    public static void Customize(ProblemDetailsContext context)
    {
        var status = context.ProblemDetails.Status ?? context.HttpContext.Response.StatusCode;
        var code = status switch
        {
            400 => "bad_request",
            401 => "unauthorized",
            404 => "not_found",
            405 => "method_not_allowed",
            413 => "request_too_large",
            415 => "unsupported_media_type",
            503 when context.Exception is { } e && Storage.Db.IsUnavailable(e) => "store_unavailable",
            _ when status >= 500 => "internal_error",
            _ => "http_" + status,
        };
        context.ProblemDetails.Type = Type(code);
        context.ProblemDetails.Extensions["code"] = code;
        if (code == "store_unavailable")
        {
            // The store is restarting or out of reach: retrying soon (with the same Idempotency-Key) is right.
            context.ProblemDetails.Title = "The service is briefly unavailable.";
            context.ProblemDetails.Detail = "Retry shortly; repeat a POST with the same Idempotency-Key.";
            context.HttpContext.Response.Headers.RetryAfter = "1";
            context.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Hutong.Store")
                .LogWarning("{Method} {Path} answered 503: the store is unavailable ({Reason})", context.HttpContext.Request.Method,
                    context.HttpContext.Request.Path, context.Exception!.GetBaseException().Message);
        }
        else if (status >= 500)
        {
            context.ProblemDetails.Detail = "An internal error occurred; nothing about it is shown here.";
        }
    }

    public static ApiResult Conflict(string code, string title, string? detail = null) => Failure.Conflict(code, title, detail).ToApiResult();
}
