using System.Net;
using Hutong.Integration.Tests.Infrastructure;

namespace Hutong.Integration.Tests;

/// <summary>A payment's return_url: validated and normalised at creation, returned in the payment JSON.</summary>
public abstract class ReturnUrlTests(HubFixture hub)
{
    private static object Payment(string orderId, string? returnUrl) => new
    {
        amount = 1200,
        currency = "CNY",
        description = "龙井茶 Longjing",
        merchant_order_id = orderId,
        return_url = returnUrl,
    };

    [Theory]
    [InlineData("https://shop.example/orders/A-1?x=1", "https://shop.example/orders/A-1?x=1")]
    [InlineData("https://shop.example/订单/1", "https://shop.example/%E8%AE%A2%E5%8D%95/1")]
    [InlineData("http://127.0.0.1:8080/back", "http://127.0.0.1:8080/back")]
    [InlineData("http://localhost:5000/shop", "http://localhost:5000/shop")]
    [InlineData("http://[::1]/shop", "http://[::1]/shop")]
    public async Task A_return_url_is_normalised_and_returned(string given, string stored)
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var r = await m.PostAsync("/v1/payments", Payment("ru-" + Guid.NewGuid().ToString("N")[..10], given));
        Assert.True(r.Status == HttpStatusCode.Created, r.ToString());
        Assert.Equal(stored, r.Str("return_url"));
        Assert.Equal(stored, (await m.GetAsync($"/v1/payments/{r.Str("id")}")).Str("return_url"));
    }

    [Fact]
    public async Task An_IDN_host_is_stored_in_punycode()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var r = await m.PostAsync("/v1/payments", Payment("ru-idn", "https://商店.example/back"));
        Assert.True(r.Status == HttpStatusCode.Created, r.ToString());
        Assert.Matches("^https://xn--[a-z0-9-]+\\.example/back$", r.Str("return_url"));
    }

    [Fact]
    public async Task Without_a_return_url_it_is_null()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var r = await m.PostAsync("/v1/payments", Payment("ru-none", null));
        Assert.Equal(HttpStatusCode.Created, r.Status);
        Assert.True(!r.Json.TryGetProperty("return_url", out var v) || v.ValueKind == System.Text.Json.JsonValueKind.Null, r.Body); // nulls are omitted
    }

    [Theory]
    [InlineData("http://shop.example/orders/1")] // cleartext to another machine
    [InlineData("javascript:alert(1)")]
    [InlineData("ftp://shop.example/x")]
    [InlineData("/orders/1")]
    [InlineData("https://user:secret@shop.example/")]
    [InlineData("https://shop.example/a\r\nSet-Cookie: x=1")]
    [InlineData("")]
    public async Task A_bad_return_url_is_a_validation_problem_and_creates_nothing(string given)
    {
        var (m, merchantId, _) = await hub.NewMerchantAsync();
        var r = await m.PostAsync("/v1/payments", Payment("ru-bad", given));
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.Equal("application/problem+json", r.ContentHeaders?.ContentType?.MediaType);
        Assert.True(r.Json.GetProperty("errors").TryGetProperty("return_url", out _), r.Body);
        Assert.Equal(0, await hub.CountAsync("SELECT COUNT(*) FROM payments WHERE merchant_id = @merchantId", new { merchantId }));
    }

    [Fact]
    public async Task A_too_long_return_url_is_refused()
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var r = await m.PostAsync("/v1/payments", Payment("ru-long", "https://shop.example/" + new string('a', 2100)));
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.True(r.Json.GetProperty("errors").TryGetProperty("return_url", out _), r.Body);
    }
}

[Collection("sqlite")]
public sealed class ReturnUrlTests_Sqlite(SqliteHub hub) : ReturnUrlTests(hub);

[Collection("postgres")]
public sealed class ReturnUrlTests_Postgres(PostgresHub hub) : ReturnUrlTests(hub);
