using System.Text.Json;
using Hutong.Server.Features.Payments;

namespace Hutong.Integration.Tests.Infrastructure;

/// <summary>A wallet's buyer id never leaves the hub except to the wallet: the API shows the hub's pseudonym of it.</summary>
public static class PayerPrivacy
{
    /// <summary>The payer id the hub must show <paramref name="merchantId"/> for <paramref name="rawId"/> at <paramref name="wallet"/>.</summary>
    public static string PseudonymOf(this HubFixture hub, string merchantId, string wallet, string rawId) =>
        hub.Service<PayerPseudonyms>().For(merchantId, wallet, rawId)!;

    /// <summary>payer.id of <paramref name="payment"/> (an API answer) is its merchant's pseudonym of <paramref name="rawId"/>, and the raw id is nowhere in the answer.</summary>
    public static async Task AssertPayerAsync(this HubFixture hub, ApiResponse payment, string wallet, string rawId)
    {
        var merchantId = await hub.Db.ReadAsync(c => Dapper.SqlMapper.ExecuteScalarAsync<string>(c,
            "SELECT merchant_id FROM payments WHERE id = @id", new { id = payment.Str("id") }), default);
        var shown = payment.Json.GetProperty("payer").GetProperty("id").GetString();
        Assert.Equal(hub.PseudonymOf(merchantId!, wallet, rawId), shown);
        Assert.StartsWith(PayerPseudonyms.Prefix, shown, StringComparison.Ordinal);
        Assert.DoesNotContain(rawId, payment.Body, StringComparison.Ordinal);
    }

    /// <summary>The payer id shown in a payment JSON (API answer or webhook body).</summary>
    public static string? PayerIdOf(JsonElement payment) =>
        payment.TryGetProperty("payer", out var p) && p.ValueKind == JsonValueKind.Object ? p.GetProperty("id").GetString() : null;
}
