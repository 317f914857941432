using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Hutong.Sandbox.Alipay;

/// <summary>An image an application uploaded with alipay.merchant.image.upload, by its image_id.</summary>
public sealed record AlipaySandboxImage(string ImageId, string AppId, string ImageType, string FileName, byte[] Content, DateTimeOffset At);

/// <summary>The sandbox's uploaded complaint images and every upload's outcome (for tests).</summary>
public sealed class AlipaySandboxImageBook
{
    public ConcurrentDictionary<string, AlipaySandboxImage> Images { get; } = new(StringComparer.Ordinal);

    /// <summary>"upload:ok" / "upload:{sub_code}".</summary>
    public ConcurrentQueue<string> Calls { get; } = new();
}

/// <summary>
/// alipay.merchant.image.upload (商户上传处理图片), Alipay's side, from the SDK models (not from the hub's connector): a
/// multipart/form-data gateway request whose text parameters (image_type among them) are signed like any other and whose
/// file part image_content is not; image_content "最大为5M", image_type "支持格式：jpg、jpeg、png"; the answer carries
/// image_id (alipay-sdk-java-all v2/.../request/AlipayMerchantImageUploadRequest.java and response/AlipayMerchantImageUploadResponse;
/// alipay-sdk (npm) dist/commonjs/alipay.js #multipartExec: "文件不需要签名"). Refusals use the gateway's public codes for files:
/// 40002 isv.invalid-file-extension (文件扩展名无效), isv.invalid-file-size (文件大小无效), isv.upload-fail (文件上传失败) and
/// 40002 isv.invalid-parameter (github.com/suiyunonghen/DxNetPay AliPay/AlipayErrInfo.go lists them). The sandbox reads the
/// image's type from its bytes and refuses one that is not what image_type says.
/// </summary>
public static partial class AlipaySandboxEndpoints
{
    /// <summary>"最大为5M": 5 MiB.</summary>
    public const long MaxImageBytes = 5 * 1024 * 1024;

    private static async Task<JsonObject> ImageUploadAsync(HttpContext ctx, AlipaySandboxState state, string appId, Dictionary<string, string> p)
    {
        var file = ctx.Request.HasFormContentType ? ctx.Request.Form.Files.GetFile("image_content") : null;
        var type = p.GetValueOrDefault("image_type")?.Trim().ToLowerInvariant();
        if (type is not ("jpg" or "jpeg" or "png"))
        {
            return RefuseImage(state, "isv.invalid-file-extension", "文件扩展名无效，image_type 支持 jpg、jpeg、png");
        }

        if (file is null || file.Length == 0)
        {
            return RefuseImage(state, "isv.upload-fail", "文件上传失败，缺少 image_content");
        }

        if (file.Length > MaxImageBytes)
        {
            return RefuseImage(state, "isv.invalid-file-size", "文件大小无效，图片最大为5M");
        }

        using var ms = new MemoryStream();
        await file.CopyToAsync(ms, ctx.RequestAborted);
        var content = ms.ToArray();
        var sniffed = content.Length >= 3 && content[0] == 0xFF && content[1] == 0xD8 && content[2] == 0xFF ? "jpg"
            : content.Length >= 8 && content.AsSpan(0, 8).SequenceEqual((byte[])[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) ? "png"
            : null;
        if (sniffed is null || sniffed != (type == "jpeg" ? "jpg" : type))
        {
            return RefuseImage(state, "isv.invalid-file-extension", "文件扩展名无效，图片内容不是 image_type 所示的格式");
        }

        var imageId = RandomNumberGenerator.GetHexString(32, lowercase: true);
        state.ComplaintImages.Images[imageId] = new AlipaySandboxImage(imageId, appId, type, file.FileName, content, DateTimeOffset.UtcNow);
        state.ComplaintImages.Calls.Enqueue("upload:ok");
        return Ok(new JsonObject { ["image_id"] = imageId });
    }

    private static JsonObject RefuseImage(AlipaySandboxState state, string subCode, string message)
    {
        state.ComplaintImages.Calls.Enqueue($"upload:{subCode}");
        return Error("40002", "Invalid Arguments", subCode, message);
    }

    /// <summary>The first of <paramref name="imageIds"/> this application did not upload, or null.</summary>
    private static string? UnknownImage(AlipaySandboxState state, string appId, IEnumerable<string> imageIds) =>
        imageIds.FirstOrDefault(id => !state.ComplaintImages.Images.TryGetValue(id, out var i) || i.AppId != appId);
}
