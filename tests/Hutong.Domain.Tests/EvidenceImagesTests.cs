using Hutong.Domain.Files;

namespace Hutong.Domain.Tests;

/// <summary>An evidence image's type comes from its bytes; the size bound is WeChat's 2 MiB.</summary>
public class EvidenceImagesTests
{
    [Theory]
    [InlineData(new byte[] { 0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10 }, "jpg")]
    [InlineData(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0 }, "png")]
    [InlineData(new byte[] { 0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0, 0 }, null)] // GIF89a
    [InlineData(new byte[] { 0x25, 0x50, 0x44, 0x46, 0x2D }, null)]             // %PDF-
    [InlineData(new byte[] { 0x89, 0x50, 0x4E, 0x47 }, null)]                   // a PNG signature cut short
    [InlineData(new byte[] { 0xFF, 0xD8 }, null)]
    public void The_type_is_read_from_the_magic_number(byte[] content, string? type) => Assert.Equal(type, EvidenceImages.Detect(content));

    [Fact]
    public void A_bmp_needs_its_header()
    {
        var bmp = new byte[26];
        bmp[0] = (byte)'B';
        bmp[1] = (byte)'M';
        Assert.Equal("bmp", EvidenceImages.Detect(bmp));
        Assert.Null(EvidenceImages.Detect(bmp.AsSpan(0, 10)));
    }

    [Fact]
    public void Empty_too_large_and_unknown_content_is_refused_and_an_image_at_the_limit_is_not()
    {
        var atLimit = new byte[EvidenceImages.MaxBytes];
        atLimit[0] = 0xFF;
        atLimit[1] = 0xD8;
        atLimit[2] = 0xFF;
        Assert.Null(EvidenceImages.Refusal(atLimit));
        var over = new byte[EvidenceImages.MaxBytes + 1];
        atLimit.CopyTo(over, 0);
        Assert.Contains("larger", EvidenceImages.Refusal(over), StringComparison.Ordinal);
        Assert.Contains("empty", EvidenceImages.Refusal([]), StringComparison.Ordinal);
        Assert.Contains("not a JPG", EvidenceImages.Refusal("GIF89a"u8), StringComparison.Ordinal);
        Assert.Equal(2 * 1024 * 1024, EvidenceImages.MaxBytes);
    }
}
