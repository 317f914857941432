using System.Net;
using Hutong.Integration.Tests.Infrastructure;

namespace Hutong.Integration.Tests;

/// <summary>
/// A NUL (U+0000) in any text of a request is a 400 naming the field, on both stores: PostgreSQL's text cannot hold it,
/// and before this rule a refund reason, a link title, a host's name or a webhook URL with one was a 500 there
/// (22021 invalid byte sequence), found by a black-box probe. Nothing is stored.
/// </summary>
public abstract class NulTextTests(HubFixture hub)
{
    [Fact]
    public async Task A_NUL_in_any_text_of_a_request_is_a_400_naming_the_field_and_changes_nothing()
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var payment = await m.CreatePaymentAsync();
        var cases = new (string Path, object Body, string Param)[]
        {
            ($"/v1/payments/{payment}/refunds", new { amount = 100, reason = "坏\u0000了" }, "reason"),
            ($"/v1/payments/{payment}/friend_pay_links", new { requester_name = "小\u0000红" }, "requester_name"),
            ("/v1/links", new { url = "https://shop.example.com/p/1", title = "茶\u0000壶" }, "title"),
            ("/v1/share_codes", new { url = "https://shop.example.com/p/1", title = "茶\u0000壶" }, "title"),
            ("/v1/hosts", new { name = "小\u0000李", live_room = "room-1" }, "name"),
            ("/v1/webhook_endpoints", new { url = "https://hooks.example.com/\u0000" }, "url"),
            ("/v1/payments", new { amount = 100, currency = "CNY", description = "茶", metadata = new Dictionary<string, string> { ["k"] = "v\u0000" } }, "metadata.k"),
        };
        foreach (var (path, body, param) in cases)
        {
            var r = await m.PostAsync(path, body);
            Assert.True(r.Status == HttpStatusCode.BadRequest, $"{path}: {r}");
            Assert.Equal("application/problem+json", r.ContentHeaders?.ContentType?.MediaType);
            Assert.Equal(param, r.Str("param"));
            Assert.Contains("NUL", r.Body, StringComparison.Ordinal);
        }

        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM refunds WHERE merchant_id = @merchantId", new { merchantId }));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM links WHERE merchant_id = @merchantId", new { merchantId }));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM hosts WHERE merchant_id = @merchantId", new { merchantId }));
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM webhook_endpoints WHERE merchant_id = @merchantId", new { merchantId }));
        Assert.Equal(1, await hub.CountAsync("SELECT COUNT(*) FROM payments WHERE merchant_id = @merchantId", new { merchantId }));
    }
}

[Collection("sqlite")]
public sealed class NulTextTests_Sqlite(SqliteHub hub) : NulTextTests(hub);

[Collection("postgres")]
public sealed class NulTextTests_Postgres(PostgresHub hub) : NulTextTests(hub);
