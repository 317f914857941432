using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;

namespace Hutong.Server.Http;

/// <summary>Reads a JSON body strictly: JSON content type, size cap, no unknown fields, no floats for integers.</summary>
public static partial class RequestBody
{
    public const int MaxBytes = 64 * 1024;

    /// <summary>
    /// Endpoint metadata that routing turns into Kestrel's per-request body limit, so the cap holds while the body is
    /// read (chunked bodies have no Content-Length to check) — by the idempotency hash as much as by the parser.
    /// </summary>
    public static readonly RequestSizeLimitAttribute SizeLimit = new(MaxBytes);

    public static ApiResult TooLarge() => ApiResult.Problem(413, "request_too_large", $"The body must be at most {MaxBytes} bytes.");

    public static async Task<(T? Value, ApiResult? Problem)> ReadAsync<T>(HttpRequest request)
        where T : class
    {
        if (request.ContentLength is > MaxBytes)
        {
            return (null, TooLarge());
        }

        // For an endpoint mapped without SizeLimit: the cap still holds while reading, if nothing has read the body yet.
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit && limit.MaxRequestBodySize is null or > MaxBytes)
        {
            limit.MaxRequestBodySize = MaxBytes;
        }

        if (request.ContentType is null || !request.ContentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
        {
            return (null, ApiResult.Problem(415, "unsupported_media_type", "Send the body as application/json."));
        }

        try
        {
            request.EnableBuffering();
            request.Body.Position = 0;
            var value = await JsonSerializer.DeserializeAsync<T>(request.Body, ApiJson.RequestOptions, request.HttpContext.RequestAborted);
            return value is null
                ? (null, Problems.Invalid("body", "The body must be a JSON object."))
                : (value, null);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, TooLarge());
        }
        catch (JsonException e)
        {
            var path = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "body" : e.Path.TrimStart('$', '.');
            return (null, Problems.Invalid(path, Describe(e, path)));
        }
    }

    /// <summary>
    /// What was wrong, in the API's words. The serializer's own messages name our .NET types and members
    /// (<c>Hutong.Server.Features.Payments.CreatePaymentRequest</c>): a problem response never carries them.
    /// </summary>
    internal static string Describe(JsonException e, string path)
    {
        var m = e.Message;
        if (m.Contains("could not be mapped to any .NET member", StringComparison.Ordinal))
        {
            var field = UnknownField().Match(m) is { Success: true } u ? u.Groups[1].Value : path;
            return $"'{field}' is not a field of this request.";
        }

        if (m.Contains("missing required properties", StringComparison.Ordinal))
        {
            return "A required field is missing.";
        }

        if (m.Contains("Duplicate", StringComparison.OrdinalIgnoreCase))
        {
            return "A field appears more than once in the same object.";
        }

        if (m.StartsWith(ApiJson.NoNulString.Message, StringComparison.Ordinal))
        {
            return $"'{path}' may not contain the NUL character (\\u0000).";
        }

        if (m.Contains("could not be converted", StringComparison.Ordinal))
        {
            return path == "body"
                ? "The body must be a JSON object with this request's fields."
                : $"'{path}' has the wrong type: amounts and counts are whole numbers, text is a JSON string.";
        }

        return e.LineNumber is { } line && e.BytePositionInLine is { } position
            ? $"The body is not valid JSON (line {line + 1}, byte {position + 1})."
            : "The body is not valid JSON.";
    }

    [System.Text.RegularExpressions.GeneratedRegex("The JSON property '([^']{1,64})'")]
    private static partial System.Text.RegularExpressions.Regex UnknownField();
}
