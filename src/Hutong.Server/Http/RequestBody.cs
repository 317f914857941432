using System.Text.Json;

namespace Hutong.Server.Http;

/// <summary>Reads a JSON body strictly: JSON content type, size cap, no unknown fields, no floats for integers.</summary>
public static class RequestBody
{
    public const int MaxBytes = 64 * 1024;

    public static async Task<(T? Value, ApiResult? Problem)> ReadAsync<T>(HttpRequest request)
        where T : class
    {
        if (request.ContentLength is > MaxBytes)
        {
            return (null, ApiResult.Problem(413, "request_too_large", $"The body must be at most {MaxBytes} bytes."));
        }

        if (request.ContentType is null || !request.ContentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
        {
            return (null, ApiResult.Problem(415, "unsupported_media_type", "Send the body as application/json."));
        }

        try
        {
            request.EnableBuffering();
            request.Body.Position = 0;
            var value = await JsonSerializer.DeserializeAsync<T>(request.Body, ApiJson.Options, request.HttpContext.RequestAborted);
            return value is null
                ? (null, Problems.Invalid("body", "The body must be a JSON object."))
                : (value, null);
        }
        catch (JsonException e)
        {
            var path = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "body" : e.Path.TrimStart('$', '.');
            return (null, Problems.Invalid(path, $"The body is not valid JSON for this request: {FirstSentence(e.Message)}"));
        }
    }

    private static string FirstSentence(string message)
    {
        var i = message.IndexOf(". ", StringComparison.Ordinal);
        return i < 0 ? message : message[..(i + 1)];
    }
}
