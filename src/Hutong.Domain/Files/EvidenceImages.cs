namespace Hutong.Domain.Files;

/// <summary>
/// Images a merchant may show a wallet as evidence (a dispute's answer). The type is read from the bytes (magic numbers),
/// never from the name or the Content-Type the client claims. The hub takes what both wallets can take in size: WeChat Pay's
/// merchant-service images are "JPG、BMP、PNG … 不能超过2M" (wechatpay-im/website openapi/v3/merchant-service/images/upload.md),
/// Alipay's alipay.merchant.image.upload "最大为5M", jpg/jpeg/png (alipay-sdk-java-all AlipayMerchantImageUploadRequest.java);
/// whether a type is taken by the dispute's wallet is checked when the file is used.
/// </summary>
public static class EvidenceImages
{
    /// <summary>2 MiB: WeChat's limit ("2M"), the smaller of the two wallets'.</summary>
    public const long MaxBytes = 2 * 1024 * 1024;

    /// <summary>The types the hub stores: jpg, png, bmp (WeChat's three; Alipay takes jpg and png).</summary>
    public static readonly IReadOnlyList<string> Types = ["jpg", "png", "bmp"];

    /// <summary>jpg (FF D8 FF), png (89 50 4E 47 0D 0A 1A 0A), bmp ("BM" and a header's worth of bytes), else null.</summary>
    public static string? Detect(ReadOnlySpan<byte> content) =>
        content.Length >= 3 && content[0] == 0xFF && content[1] == 0xD8 && content[2] == 0xFF ? "jpg"
        : content.Length >= 8 && content[..8].SequenceEqual(Png) ? "png"
        : content.Length >= 26 && content[0] == (byte)'B' && content[1] == (byte)'M' ? "bmp"
        : null;

    /// <summary>Why <paramref name="content"/> is not an evidence image, or null when it is (its type is <see cref="Detect"/>'s).</summary>
    public static string? Refusal(ReadOnlySpan<byte> content) =>
        content.Length == 0 ? "The file is empty."
        : content.Length > MaxBytes ? $"The file is larger than {MaxBytes} bytes (2 MiB, the wallets' limit for evidence images)."
        : Detect(content) is null ? "The file is not a JPG, PNG or BMP image (its content is checked, not its name)."
        : null;

    private static ReadOnlySpan<byte> Png => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
}
