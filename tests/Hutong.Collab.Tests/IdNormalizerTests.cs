using Hutong.Collab.Ids;

namespace Hutong.Collab.Tests;

public class IdNormalizerTests
{
    [Theory]
    [InlineData("13800138000", "+8613800138000")]
    [InlineData(" +86 138-0013-8000 ", "+8613800138000")]
    [InlineData("008613800138000", "+8613800138000")]
    [InlineData("8613800138000", "+8613800138000")]
    [InlineData("(+86) 199 0000 0001", "+8619900000001")]
    [InlineData("+44 20 7946 0958", "+442079460958")]
    public void Phones_become_E164(string raw, string expected) =>
        Assert.Equal(expected, IdNormalizer.TryNormalize(raw, IdRule.Phone, out _));

    [Theory]
    [InlineData("12800138000")] // second digit 2: not a CN mobile prefix
    [InlineData("1380013800")] // 10 digits
    [InlineData("010-12345678")] // a landline
    [InlineData("+0123456789")]
    [InlineData("138O0138000")] // letter O
    [InlineData("+86 138 0013 8000 ext 5")]
    public void Bad_phones_are_refused(string raw)
    {
        Assert.Null(IdNormalizer.TryNormalize(raw, IdRule.Phone, out var problem, row: 9));
        Assert.Equal("bad_id", problem!.Code);
        Assert.Equal(9, problem.Row);
        Assert.DoesNotContain(raw, problem.Detail, StringComparison.Ordinal); // the raw id is never repeated
    }

    [Theory]
    [InlineData("6D92078A-8246-4BA4-AE5B-76104861E7DC", "6d92078a82464ba4ae5b76104861e7dc")]
    [InlineData("  a1b2c3d4e5f60718 ", "a1b2c3d4e5f60718")]
    public void Device_ids_become_lower_case_hex(string raw, string expected) =>
        Assert.Equal(expected, IdNormalizer.TryNormalize(raw, IdRule.DeviceId, out _));

    [Theory]
    [InlineData("00000000-0000-0000-0000-000000000000")] // limited ad tracking placeholder
    [InlineData("xyz12345")]
    [InlineData("abc")]
    public void Bad_device_ids_are_refused(string raw) => Assert.Null(IdNormalizer.TryNormalize(raw, IdRule.DeviceId, out _));

    [Fact]
    public void A_batch_reports_bad_rows_empty_rows_and_duplicates_after_normalisation()
    {
        var result = IdNormalizer.NormalizeAll(["13800138000", "", "+86 138 0013 8000", "not a phone", null, "13900139000"], IdRule.Phone);

        Assert.Equal(["+8613800138000", "+8613900139000"], result.Ids);
        Assert.Equal([(1L, "empty_id"), (2L, "duplicate_id"), (3L, "bad_id"), (4L, "empty_id")], result.Problems.Select(p => (p.Row, p.Code)));
        Assert.Contains("row 0", result.Problems[1].Detail, StringComparison.Ordinal);
        var ex = Assert.Throws<CollabProtocolException>(() => result.OrThrow());
        Assert.Equal("empty_id", ex.Code);
        Assert.StartsWith("4 input row(s) refused", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Opaque_ids_are_trimmed_and_refuse_control_characters()
    {
        Assert.Equal("user-1", IdNormalizer.TryNormalize("  user-1\t", IdRule.Opaque, out _));
        Assert.Null(IdNormalizer.TryNormalize("a\u0000b", IdRule.Opaque, out _));
        Assert.Null(IdNormalizer.TryNormalize(new string('x', 257), IdRule.Opaque, out _));
        Assert.Equal("opaque-trim/v1", IdRule.Opaque.Name());
    }
}
