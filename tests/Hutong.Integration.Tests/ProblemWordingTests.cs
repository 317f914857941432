using System.Net;
using Hutong.Integration.Tests.Infrastructure;

namespace Hutong.Integration.Tests;

/// <summary>Problem responses say what was wrong in the API's terms and never name the hub's internal types.</summary>
[Collection("sqlite")]
public sealed class ProblemWordingTests(SqliteHub hub)
{
    [Theory]
    [InlineData("/v1/payments", """{"amount":12.5,"currency":"CNY","description":"x","merchant_order_id":"w-1"}""", "amount", "wrong type")]
    [InlineData("/v1/payments", """{"amount":"100","currency":"CNY","description":"x","merchant_order_id":"w-2"}""", "amount", "wrong type")]
    [InlineData("/v1/payments", """{"amount":100,"currency":"CNY","description":"x","merchant_order_id":"w-3","colour":"red"}""", "colour", "not a field")]
    [InlineData("/v1/payments", """{"amount":100,"amount":200,"currency":"CNY","description":"x","merchant_order_id":"w-4"}""", null, "more than once")]
    [InlineData("/v1/payments", """[1,2]""", "body", "JSON object")]
    [InlineData("/v1/payments", """{"amount":100,""", null, "not valid JSON")]
    [InlineData("/v1/links", """{"url":42,"title":"t"}""", "url", "wrong type")]
    [InlineData("/v1/webhook_endpoints", """{"url":"https://example.com/h","enabled_events":"payment.succeeded"}""", "enabled_events", "wrong type")]
    public async Task Bad_bodies_get_problems_in_the_APIs_words(string path, string body, string? param, string says)
    {
        var (m, _, _) = await hub.NewMerchantAsync();
        var r = await m.PostAsync(path, rawBody: body);
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.Equal("application/problem+json", r.ContentHeaders?.ContentType?.MediaType);
        Assert.DoesNotContain("Hutong.", r.Body, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", r.Body, StringComparison.Ordinal);
        Assert.DoesNotContain(".NET", r.Body, StringComparison.Ordinal);
        Assert.Contains(says, r.Body, StringComparison.Ordinal);
        if (param is not null)
        {
            Assert.Equal(param, r.Str("param"));
        }
    }
}
