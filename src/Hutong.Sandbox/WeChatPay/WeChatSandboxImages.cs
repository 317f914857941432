using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hutong.Sandbox.WeChatPay;

/// <summary>An image a merchant uploaded to the sandbox's WeChat Pay (商户上传反馈图片), by its media_id.</summary>
public sealed record SandboxMedia(string MediaId, string MchId, string FileName, string Sha256, string ContentType, byte[] Content, DateTimeOffset At);

/// <summary>The sandbox's merchant-service images: media_id → image, and every upload attempt's outcome (for tests).</summary>
public sealed class WeChatSandboxImageState
{
    public ConcurrentDictionary<string, SandboxMedia> Media { get; } = new(StringComparer.Ordinal);

    /// <summary>"upload:{filename}:ok" / "upload:{filename}:{code}".</summary>
    public ConcurrentQueue<string> Calls { get; } = new();
}

/// <summary>
/// WeChat Pay's merchant-service images, the wallet's side, written from the public docs (not from the hub's connector):
/// POST /v3/merchant-service/images/upload takes multipart/form-data with a <c>meta</c> part — JSON {"filename", "sha256"},
/// filename ending in JPG, BMP or PNG (1-128 characters), sha256 the hex digest of the file — and the <c>file</c> part,
/// "媒体图片只支持JPG、BMP、PNG格式，文件大小不能超过2M"; the request's signature covers the meta JSON, not the body; the
/// answer is {"media_id"} (wechatpay-im/website openapi/v3/merchant-service/images/upload.md; the official page's field
/// table, pay.weixin.qq.com/doc/v3/partner/4012760509, gives filename string[1,128] and sha256 string[1,64]).
/// GET /v3/merchant-service/images/{media_id} answers the image (图片下载, wechatpay-im/website
/// openapi/v3/merchant-service/images/{media_id}.md). Errors are the APIv3 common ones: 400 PARAM_ERROR, 400
/// INVALID_REQUEST (not multipart), 401 SIGN_ERROR; a media id the merchant did not upload is 404 RESOURCE_NOT_EXISTS.
/// The sandbox reads the image's type from its bytes, as a check of the format the name claims.
/// </summary>
public static partial class WeChatSandboxEndpoints
{
    /// <summary>"不能超过2M": 2 MiB.</summary>
    public const long MaxImageBytes = 2 * 1024 * 1024;

    private static void MapImages(IEndpointRouteBuilder app, WeChatSandboxState state)
    {
        app.MapPost("/v3/merchant-service/images/upload", (HttpContext ctx) => UploadImageAsync(ctx, state)).DisableAntiforgery();
        app.MapGet("/v3/merchant-service/images/{mediaId}", (HttpContext ctx, string mediaId) => DownloadImageAsync(ctx, state, mediaId));
    }

    private static async Task UploadImageAsync(HttpContext ctx, WeChatSandboxState state)
    {
        var parts = await ReadPartsAsync(ctx);

        // The signature covers the meta part exactly as sent. Parts are read by name, with or without a filename or a
        // content type: axios (under wechatpay-axios-plugin) sends both parts without filenames, as octet-streams.
        var meta = parts?.GetValueOrDefault("meta") is { Length: <= 4096 } metaBytes ? System.Text.Encoding.UTF8.GetString(metaBytes) : string.Empty;
        var (merchant, _) = await AuthenticateAsync(ctx, state, meta);
        if (merchant is null)
        {
            state.Images.Calls.Enqueue("upload:-:SIGN_ERROR");
            return;
        }

        var fault = state.Faults.Next("image_upload", null, ctx);
        if (await BeforeAsync(ctx, state, merchant, fault))
        {
            return;
        }

        if (parts is null)
        {
            await RefuseImageAsync(ctx, state, merchant, "-", "INVALID_REQUEST", "请求主体类型须为 multipart/form-data");
            return;
        }

        JsonObject? m = null;
        try
        {
            m = JsonNode.Parse(meta) as JsonObject;
        }
        catch (JsonException)
        {
        }

        var filename = m is null ? null : Str(m, "filename");
        var sha256 = m is null ? null : Str(m, "sha256");
        var file = parts.GetValueOrDefault("file");
        var suffix = filename is null ? null : Path.GetExtension(filename).TrimStart('.').ToLowerInvariant();
        var content = file is { Length: <= (int)MaxImageBytes } ? file : [];

        var sniffed = SniffImage(content);
        var problem =
            m is null ? "meta 须为 JSON，包含 filename 和 sha256" :
            filename is not { Length: >= 1 and <= 128 } ? "meta.filename 长度须为 1-128" :
            suffix is not ("jpg" or "bmp" or "png") ? "meta.filename 必须以JPG、BMP、PNG为后缀" :
            sha256 is not { Length: 64 } ? "meta.sha256 须为图片文件的sha256摘要" :
            file is null ? "缺少 file" :
            file.Length == 0 ? "file 不能为空" :
            file.Length > MaxImageBytes ? "图片文件大小不能超过2M" :
            sniffed is null ? "媒体图片只支持JPG、BMP、PNG格式" :
            sniffed != suffix ? "文件内容与 filename 后缀的格式不符" :
            !string.Equals(Convert.ToHexStringLower(SHA256.HashData(content)), sha256, StringComparison.OrdinalIgnoreCase) ? "文件 sha256 与 meta.sha256 不一致" :
            null;
        if (problem is not null)
        {
            await RefuseImageAsync(ctx, state, merchant, filename ?? "-", "PARAM_ERROR", problem);
            return;
        }

        var mediaId = "V" + RandomNumberGenerator.GetString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", 63);
        state.Images.Media[mediaId] = new SandboxMedia(mediaId, merchant.MchId, filename!, sha256!.ToLowerInvariant(),
            sniffed switch { "png" => "image/png", "bmp" => "image/bmp", _ => "image/jpeg" }, content, DateTimeOffset.UtcNow);
        state.Images.Calls.Enqueue($"upload:{filename}:ok");
        if (await AfterAsync(ctx, state, fault))
        {
            return;
        }

        await SignedAsync(ctx, state, merchant, 200, JsonSerializer.Serialize(new { media_id = mediaId }, Json), fault);
    }

    /// <summary>
    /// The multipart body's parts by name (the first of each), raw bytes; a part over 2 MiB is kept as 2 MiB + 1 bytes of
    /// it so the size check can refuse it. Null when the body is not multipart/form-data or not well-formed.
    /// </summary>
    private static async Task<Dictionary<string, byte[]>?> ReadPartsAsync(HttpContext ctx)
    {
        if (!Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(ctx.Request.ContentType, out var type)
            || !type.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase)
            || Microsoft.Net.Http.Headers.HeaderUtilities.RemoveQuotes(type.Boundary).Value is not { Length: > 0 and <= 200 } boundary)
        {
            return null;
        }

        var parts = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        try
        {
            var reader = new Microsoft.AspNetCore.WebUtilities.MultipartReader(boundary, ctx.Request.Body);
            while (await reader.ReadNextSectionAsync(ctx.RequestAborted) is { } section && parts.Count < 8)
            {
                if (!Microsoft.Net.Http.Headers.ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                    || Microsoft.Net.Http.Headers.HeaderUtilities.RemoveQuotes(disposition.Name).Value is not { Length: > 0 } name)
                {
                    continue;
                }

                using var ms = new MemoryStream();
                var buffer = new byte[81920];
                int n;
                while ((n = await section.Body.ReadAsync(buffer, ctx.RequestAborted)) > 0)
                {
                    ms.Write(buffer, 0, (int)Math.Min(n, MaxImageBytes + 1 - ms.Length));
                }

                parts.TryAdd(name, ms.ToArray());
            }
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            return null;
        }

        return parts;
    }

    private static Task RefuseImageAsync(HttpContext ctx, WeChatSandboxState state, SandboxMerchant merchant, string filename, string code, string message)
    {
        state.Images.Calls.Enqueue($"upload:{filename}:{code}");
        return ErrorAsync(ctx, state, merchant, 400, code, message);
    }

    private static async Task DownloadImageAsync(HttpContext ctx, WeChatSandboxState state, string mediaId)
    {
        var (merchant, _) = await AuthenticateAsync(ctx, state);
        if (merchant is null)
        {
            return;
        }

        if (!state.Images.Media.TryGetValue(mediaId, out var media) || (media.MchId != merchant.MchId && !merchant.SubMerchants.ContainsKey(media.MchId)))
        {
            await ErrorAsync(ctx, state, merchant, 404, "RESOURCE_NOT_EXISTS", "图片不存在");
            return;
        }

        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = media.ContentType;
        await ctx.Response.Body.WriteAsync(media.Content, ctx.RequestAborted);
    }

    /// <summary>jpg (FF D8 FF), png (89 50 4E 47 0D 0A 1A 0A), bmp ("BM"), else null.</summary>
    private static string? SniffImage(byte[] b) =>
        b.Length >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF ? "jpg"
        : b.Length >= 8 && b.AsSpan(0, 8).SequenceEqual((byte[])[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) ? "png"
        : b.Length >= 26 && b[0] == (byte)'B' && b[1] == (byte)'M' ? "bmp"
        : null;

    /// <summary>Why the media ids an answer names cannot go with it (not uploaded by this merchant), or null.</summary>
    private static string? UnknownMedia(WeChatSandboxState state, SandboxMerchant merchant, IEnumerable<string> mediaIds) =>
        mediaIds.FirstOrDefault(id => !state.Images.Media.TryGetValue(id, out var m) || (m.MchId != merchant.MchId && !merchant.SubMerchants.ContainsKey(m.MchId))) is { } bad
            ? $"图片 {bad} 不存在或不属于本商户，请先通过图片上传接口上传"
            : null;
}
