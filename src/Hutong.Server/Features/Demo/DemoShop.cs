using System.Globalization;
using System.Net;
using Hutong.Domain;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Features.Payments;
using Hutong.Server.Http;

namespace Hutong.Server.Features.Demo;

/// <summary>
/// A tiny shop that buys through Hutong exactly as a merchant would (create, then confirm at WeChat Pay),
/// so a newcomer sees the whole journey: product → checkout QR → sandbox buyer pays → paid.
/// </summary>
public sealed partial class DemoShop(MerchantStore merchants, ILogger<DemoShop> log)
{
    private sealed record Product(string Sku, string Name, long PriceFen);

    private static readonly Product[] Products =
    [
        new("tea", "西湖龙井 Longjing tea, 250 g", 16800),
        new("mooncake", "广式月饼礼盒 Mooncake box", 9900),
        new("fan", "苏州檀香扇 Suzhou sandalwood fan", 4500),
    ];

    /// <summary>The demo merchant seeded at start; the shop buys as this merchant.</summary>
    public string? MerchantId { get; private set; }

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/", () => Results.Redirect("/shop")).ExcludeFromDescription();
        app.MapGet("/shop", () => Results.Content(Page(), "text/html; charset=utf-8")).ExcludeFromDescription();
        app.MapPost("/shop/buy/{sku}", BuyAsync).DisableAntiforgery().ExcludeFromDescription();
    }

    public async Task<string> SeedAsync(CancellationToken ct)
    {
        var (merchant, key) = await merchants.CreateMerchantAsync("互通小铺 Hutong Demo Shop", ct);
        MerchantId = merchant.Id;
        LogDemoMerchant(log, merchant.Id, key.Prefix);
        return key.Secret;
    }

    private static async Task<IResult> BuyAsync(string sku, DemoShop shop, PaymentService payments, PaymentStore store, CancellationToken ct)
    {
        var product = Products.FirstOrDefault(p => p.Sku == sku);
        if (product is null || shop.MerchantId is not { } merchantId)
        {
            return Results.NotFound();
        }

        var created = await payments.CreateAsync(merchantId, new CreatePaymentRequest(
            product.PriceFen, "CNY", product.Name, $"demo-{DateTime.UtcNow:yyyyMMddHHmmss}-{Ids.Token(6)}", 600, new() { ["sku"] = sku }), null, ct);
        if (created.Status != 201)
        {
            return Results.Content(created.Body ?? string.Empty, "application/problem+json", statusCode: created.Status);
        }

        var dto = System.Text.Json.JsonSerializer.Deserialize<PaymentDto>(created.Body!, ApiJson.Options)!;
        var payment = (await store.GetAsync(merchantId, dto.Id, ct))!;
        await payments.ConfirmAsync(payment, "wechatpay", ct);
        return Results.Redirect(dto.CheckoutUrl);
    }

    private static string Page()
    {
        var items = string.Join("\n", Products.Select(p => $"""
            <li><span>{WebUtility.HtmlEncode(p.Name)}</span> <strong>{new Money(p.PriceFen, Currency.Cny).ToDisplayString()}</strong>
            <form method="post" action="/shop/buy/{p.Sku}"><button id="buy-{p.Sku}" type="submit">购买 Buy</button></form></li>
            """));
        return string.Create(CultureInfo.InvariantCulture, $"""
            <!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>互通小铺 Hutong demo shop</title>
            <style>body{"{"}font-family:system-ui,"PingFang SC",sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem{"}"}li{"{"}display:flex;gap:1rem;align-items:center;justify-content:space-between;padding:.6rem 0;border-bottom:1px solid #ddd{"}"}ul{"{"}list-style:none;padding:0{"}"}button{"{"}background:#07c160;color:#fff;border:0;border-radius:.4rem;padding:.5rem 1rem;font-size:1rem{"}"}</style>
            </head><body><h1>互通小铺 · Hutong demo shop</h1>
            <p>Every purchase goes through Hutong's merchant API flow to the local WeChat Pay sandbox. API docs: <a href="/scalar/v1">/scalar/v1</a>.</p>
            <ul>{items}</ul></body></html>
            """);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Demo merchant {MerchantId} created; its API key ({KeyPrefix}…) is printed once on the console")]
    private static partial void LogDemoMerchant(ILogger logger, string merchantId, string keyPrefix);
}
