using System.Collections.Concurrent;
using System.Globalization;
using Dapper;
using Hutong.Domain;
using Hutong.Domain.Payments;
using Hutong.Server.Features.Checkout;
using Hutong.Server.Features.Links;
using Hutong.Server.Features.Merchants;
using Hutong.Server.Features.Payments;
using Hutong.Server.Http;
using Microsoft.Extensions.Options;
using static Hutong.Server.Features.Checkout.BuyerUi;

namespace Hutong.Server.Features.Demo;

/// <summary>
/// A tiny shop that sells through Hutong exactly as a merchant would, so a newcomer sees every journey in a minute:
/// products → cart → checkout (the cashier offers the wallets) → the sandbox buyer pays; "ask a friend to pay" from
/// the cashier; and sharing a product as a cross-app link with a share code (口令) that /s turns back into the product.
/// </summary>
public sealed partial class DemoShop(MerchantStore merchants, Storage.Db db, ILogger<DemoShop> log)
{
    private sealed record Product(string Sku, string Name, string NameEn, long PriceFen, string BlurbZh, string BlurbEn, string Category)
    {
        /// <summary>Both languages: the shared link's preview is read by whoever receives it.</summary>
        public string Blurb => $"{BlurbZh}{BlurbEn}";
    }

    private static readonly Product[] Products =
    [
        new("tea", "西湖龙井 250 g", "Longjing tea, 250 g", 16800, "明前龙井，杭州西湖产区。", "Pre-Qingming Longjing from West Lake, Hangzhou.", "food"),
        new("mooncake", "广式月饼礼盒", "Mooncake gift box", 9900, "八只装，莲蓉蛋黄。", "Eight lotus-paste mooncakes with salted egg yolk.", "food"),
        new("fan", "苏州檀香扇", "Suzhou sandalwood fan", 4500, "手工拉花檀香扇。", "Hand-carved sandalwood fan from Suzhou.", "crafts"),
    ];

    private const string CartCookie = "demo_cart";
    private const string BuyerCookie = "demo_buyer";
    private readonly ConcurrentDictionary<string, string> _productLinks = new(); // sku → link id, one link per product

    /// <summary>The demo merchant seeded at start; the shop sells as this merchant.</summary>
    public string? MerchantId { get; private set; }

    public static void Map(IEndpointRouteBuilder app)
    {
        var g = app.MapGroup("/").ExcludeFromDescription();
        g.MapGet("/", () => Results.Redirect("/shop"));
        g.MapGet("/shop", async (HttpContext ctx, DemoShop shop, string? order) =>
            Results.Content(ListPage(Lang.Of(ctx), Cart(ctx), await shop.OrderStatusAsync(order, ctx.RequestAborted)), "text/html; charset=utf-8"));
        g.MapGet("/shop/p/{sku}", (HttpContext ctx, string sku) => Find(sku) is { } p
            ? Results.Content(ProductPage(Lang.Of(ctx), p, null), "text/html; charset=utf-8")
            : Results.NotFound());
        g.MapPost("/shop/p/{sku}/share", ShareAsync).DisableAntiforgery();
        g.MapPost("/shop/cart/{sku}", (HttpContext ctx, string sku) =>
        {
            if (Find(sku) is null)
            {
                return Results.NotFound();
            }

            var cart = Cart(ctx);
            cart[sku] = Math.Min(99, cart.GetValueOrDefault(sku) + 1);
            SaveCart(ctx, cart);
            return Results.Redirect("/shop/cart");
        }).DisableAntiforgery();
        g.MapGet("/shop/cart", (HttpContext ctx) => Results.Content(CartPage(Lang.Of(ctx), Cart(ctx)), "text/html; charset=utf-8"));
        g.MapPost("/shop/cart/clear", (HttpContext ctx) =>
        {
            ctx.Response.Cookies.Delete(CartCookie);
            return Results.Redirect("/shop");
        }).DisableAntiforgery();
        g.MapPost("/shop/checkout", (HttpContext ctx, DemoShop shop, PaymentService payments, IOptions<HubOptions> options, CancellationToken ct) =>
        {
            var cart = Cart(ctx);
            ctx.Response.Cookies.Delete(CartCookie);
            return shop.CheckoutAsync(ctx, cart, payments, options.Value, ct);
        }).DisableAntiforgery();
        g.MapPost("/shop/buy/{sku}", (HttpContext ctx, string sku, DemoShop shop, PaymentService payments, IOptions<HubOptions> options, CancellationToken ct) =>
            Find(sku) is null ? Task.FromResult(Results.NotFound()) : shop.CheckoutAsync(ctx, new Dictionary<string, int> { [sku] = 1 }, payments, options.Value, ct))
            .DisableAntiforgery();
    }

    private const string DemoMerchantName = "互通小铺 Hutong Demo Shop";

    /// <summary>
    /// The demo sells as one merchant per store: the one an earlier start made, else a new one. Keys are stored only as
    /// hashes, so each start issues a new key to print (the earlier ones keep working).
    /// </summary>
    public async Task<(string MerchantId, string Secret, bool Reused)> SeedAsync(CancellationToken ct)
    {
        var existing = await db.ReadAsync(
            c => c.QueryFirstOrDefaultAsync<string?>("SELECT id FROM merchants WHERE name = @DemoMerchantName ORDER BY created_at, id LIMIT 1", new { DemoMerchantName }), ct);
        if (existing is not null && await merchants.CreateKeyAsync(existing, ct) is { } key)
        {
            MerchantId = existing;
            LogDemoMerchant(log, existing, key.Prefix);
            return (existing, key.Secret, true);
        }

        var (merchant, first) = await merchants.CreateMerchantAsync(DemoMerchantName, ct);
        MerchantId = merchant.Id;
        LogDemoMerchant(log, merchant.Id, first.Prefix);
        return (merchant.Id, first.Secret, false);
    }

    private static Product? Find(string sku) => Products.FirstOrDefault(p => p.Sku == sku);

    /// <summary>Creates the payment as the merchant's server would (POST /v1/payments) and sends the buyer to the cashier.</summary>
    private async Task<IResult> CheckoutAsync(HttpContext ctx, Dictionary<string, int> cart, PaymentService payments, HubOptions options, CancellationToken ct)
    {
        var lines = cart.Where(kv => kv.Value > 0 && Find(kv.Key) is not null).Select(kv => (Product: Find(kv.Key)!, Qty: kv.Value)).ToList();
        if (lines.Count == 0 || MerchantId is not { } merchantId)
        {
            return Results.Redirect("/shop");
        }

        var buyer = ctx.Request.Cookies[BuyerCookie];
        if (buyer is null)
        {
            buyer = "demo-buyer-" + Ids.Token(6);
            ctx.Response.Cookies.Append(BuyerCookie, buyer, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Lax, MaxAge = TimeSpan.FromDays(30) });
        }

        var total = lines.Sum(x => x.Product.PriceFen * x.Qty);
        // Named in the buyer's language, as a shop that sells in two languages would.
        var l = Lang.Of(ctx);
        var description = string.Join(l.T("、", ", "), lines.Select(x => x.Qty == 1 ? Name(l, x.Product) : $"{Name(l, x.Product)} ×{x.Qty}"));
        var orderId = $"demo-{DateTime.UtcNow:yyyyMMddHHmmss}-{Ids.Token(6)}";
        // The cashier links back to the shop, which then shows how the order went (only where return_url may point).
        var returnUrl = PaymentValidation.NormalizeReturnUrl($"{options.PublicBaseUrl.TrimEnd('/')}/shop?order={orderId}");
        var created = await payments.CreateAsync(merchantId, new CreatePaymentRequest(
            total, "CNY", Hutong.Connectors.WeChatPay.WeChatPayConnector.TruncateUtf8(description, PaymentValidation.DescriptionMaxUtf8Bytes), orderId, 600,
            new() { ["cart"] = string.Join(',', lines.Select(x => $"{x.Product.Sku}:{x.Qty}")) }, buyer, lines[0].Product.Category, ReturnUrl: returnUrl), null, ct);
        return created.Failure is null ? Results.Redirect(created.Value!.CheckoutUrl) : Problem(created);
    }

    /// <summary>A refused call, answered as the API would answer it.</summary>
    private static IResult Problem<T>(Outcome<T> refused)
    {
        var problem = refused.ToApiResult();
        return Results.Content(problem.Body ?? string.Empty, "application/problem+json", statusCode: problem.Status);
    }

    /// <summary>The status of the demo merchant's order <paramref name="orderId"/>, as the shop's "welcome back" line shows it; null when there is none.</summary>
    private async Task<(string OrderId, string Status)?> OrderStatusAsync(string? orderId, CancellationToken ct)
    {
        if (orderId is not { Length: > 0 and <= 64 } || MerchantId is not { } merchantId)
        {
            return null;
        }

        var status = await db.ReadAsync(c => c.QueryFirstOrDefaultAsync<string?>(
            "SELECT status FROM payments WHERE merchant_id = @merchantId AND merchant_order_id = @orderId", new { merchantId, orderId }), ct);
        return status is null ? null : (orderId, status);
    }

    /// <summary>Share a product: one cross-app link per product (reused), and a fresh share code wrapping it.</summary>
    private static async Task<IResult> ShareAsync(HttpContext ctx, string sku, DemoShop shop, LinkService links, IOptions<HubOptions> options, CancellationToken ct)
    {
        if (Find(sku) is not { } product || shop.MerchantId is not { } merchantId)
        {
            return Results.NotFound();
        }

        var l = Lang.Of(ctx);
        if (!shop._productLinks.TryGetValue(sku, out var linkId))
        {
            var created = await links.CreateLinkAsync(merchantId, new CreateLinkRequest(
                $"{options.Value.PublicBaseUrl.TrimEnd('/')}/shop/p/{sku}", $"{product.Name} {product.NameEn}", product.Blurb, null, null, null, null, null, null), null, ct);
            if (created.Failure is not null)
            {
                return Problem(created);
            }

            linkId = created.Value!.Id;
            shop._productLinks[sku] = linkId;
        }

        var code = await links.CreateShareCodeAsync(merchantId, new CreateShareCodeRequest(linkId, null, null, null), null, ct);
        return code.Failure is null ? Results.Content(ProductPage(l, product, code.Value!), "text/html; charset=utf-8") : Problem(code);
    }

    private static Dictionary<string, int> Cart(HttpContext ctx)
    {
        var cart = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var part in (ctx.Request.Cookies[CartCookie] ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = part.Split(':');
            if (kv.Length == 2 && Find(kv[0]) is not null && int.TryParse(kv[1], CultureInfo.InvariantCulture, out var n) && n is > 0 and < 100)
            {
                cart[kv[0]] = n;
            }
        }

        return cart;
    }

    private static void SaveCart(HttpContext ctx, Dictionary<string, int> cart) =>
        ctx.Response.Cookies.Append(CartCookie, string.Join(',', cart.Select(kv => $"{kv.Key}:{kv.Value}")),
            new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Lax, MaxAge = TimeSpan.FromDays(7) });

    private static string Price(long fen) => new Money(fen, Currency.Cny).ToDisplayString();

    private static string Name(Lang l, Product p) => l.T(p.Name, p.NameEn);

    private static string Header(Lang l, Dictionary<string, int>? cart) =>
        $"<p class=\"hint shopnav\"><a href=\"/shop\">{l.T("互通小铺", "Hutong demo shop")}</a> · <a href=\"/shop/cart\" id=\"cart-link\">{l.T("购物车", "Cart")}{l.T("（", " (")}{cart?.Values.Sum() ?? 0}{l.T("）", ")")}</a> · <a href=\"/s\">{l.T("粘贴口令", "Paste a share code")}</a> · <a href=\"/scalar/v1\">API</a></p>";

    private static string ListPage(Lang l, Dictionary<string, int> cart, (string OrderId, string Status)? order)
    {
        var back = order is not { } o ? string.Empty : PaymentStatusNames.FromWire(o.Status) == PaymentStatus.Succeeded
            ? $"<p class=\"status ok\" id=\"order-status\">{l.T("谢谢！订单 ", "Thank you! Order ")}<span class=\"id\">{E(o.OrderId)}</span>{l.T(" 已支付。", " is paid.")}</p>"
            : $"<p class=\"status wait\" id=\"order-status\">{l.T("订单 ", "Order ")}<span class=\"id\">{E(o.OrderId)}</span>{l.T(" 尚未支付。", " is not paid.")}</p>";
        var items = string.Join("\n", Products.Select(p => $"""
            <li><p><a href="/shop/p/{p.Sku}" id="product-{p.Sku}">{E(Name(l, p))}</a> <strong>{Price(p.PriceFen)}</strong></p>
            <form method="post" action="/shop/cart/{p.Sku}"><button class="button" id="add-{p.Sku}" type="submit">{l.T("加入购物车", "Add to cart")}</button></form>
            <form method="post" action="/shop/buy/{p.Sku}"><button class="button secondary" id="buy-{p.Sku}" type="submit">{l.T("立即购买", "Buy now")}</button></form></li>
            """));
        return Html(l, l.T("互通小铺", "Hutong demo shop"), $"""
            <main>
              <h1>{l.T("互通小铺", "Hutong demo shop")}</h1>
              {Header(l, cart)}
              {back}
              <p class="hint">{l.T("每笔购买都走 Hutong 商户 API，用本地沙箱钱包付款。", "Every purchase goes through Hutong's merchant API and is paid with the local sandbox wallets.")}</p>
              <ul class="links">{items}</ul>
            </main>
            """, refresh: false, "/shop");
    }

    private static string ProductPage(Lang l, Product p, ShareCodeDto? share)
    {
        var shared = share is null ? string.Empty : $"""
            <section aria-labelledby="share-title">
              <h2 id="share-title">{l.T("复制分享给好友", "Copy and send to a friend")}</h2>
              <p class="share" id="share-text">{ShareTextHtml(share.Text)}</p>
              {CopyButton(l, "share-text")}
              <p class="hint">{l.T("短链接：", "Short link: ")}<a id="short-link" href="{E(share.ShortUrl)}">{E(share.ShortUrl)}</a> · {l.T("口令有效期至", "Code valid until")} {share.ExpiresAt:yyyy-MM-dd}</p>
              <img src="{E(share.ShortUrl)}/qr.png" width="160" height="160" alt="{l.T("商品链接二维码", "QR code of the product link")}">
            </section>
            """;
        return Html(l, Name(l, p), $"""
            <main>
              {Header(l, null)}
              <h1 id="product-name">{E(Name(l, p))}</h1>
              <p class="amount">{Price(p.PriceFen)}</p>
              <p class="desc">{E(l.T(p.BlurbZh, p.BlurbEn))}</p>
              <form method="post" action="/shop/cart/{p.Sku}"><button class="button" id="add-{p.Sku}" type="submit">{l.T("加入购物车", "Add to cart")}</button></form>
              <form method="post" action="/shop/p/{p.Sku}/share"><button class="button secondary" id="share" type="submit">{l.T("分享（生成口令）", "Share (make a share code)")}</button></form>
              {shared}
            </main>
            {(share is null ? string.Empty : CopyScript)}
            """, refresh: false, $"/shop/p/{p.Sku}");
    }

    /// <summary>The share text with its delimited code (￥…￥) kept on one line: a code broken across lines, or a ￥ left alone at a line's end, reads as two things.</summary>
    private static string ShareTextHtml(string text)
    {
        var m = DelimitedCode().Match(text);
        return m.Success
            ? E(text[..m.Index]) + $"<span class=\"nowrap\" id=\"share-code\">{E(m.Value)}</span>" + E(text[(m.Index + m.Length)..])
            : E(text);
    }

    [System.Text.RegularExpressions.GeneratedRegex("￥[A-Za-z0-9]+￥")]
    private static partial System.Text.RegularExpressions.Regex DelimitedCode();

    private static string CartPage(Lang l, Dictionary<string, int> cart)
    {
        var lines = cart.Select(kv => (Product: Find(kv.Key)!, Qty: kv.Value)).ToList();
        var total = lines.Sum(x => x.Product.PriceFen * x.Qty);
        var rows = string.Join("\n", lines.Select(x => $"<li>{E(Name(l, x.Product))} × {x.Qty} <strong>{Price(x.Product.PriceFen * x.Qty)}</strong></li>"));
        var actions = lines.Count == 0 ? $"<p>{l.T("购物车是空的。", "Your cart is empty.")}</p>" : $"""
            <p class="amount" id="cart-total">{Price(total)}</p>
            <form method="post" action="/shop/checkout"><button class="button" id="checkout" type="submit">{l.T("去结算", "Check out")}</button></form>
            <form method="post" action="/shop/cart/clear"><button class="button secondary" type="submit">{l.T("清空购物车", "Empty the cart")}</button></form>
            """;
        return Html(l, l.T("购物车", "Cart"), $"""
            <main>
              {Header(l, cart)}
              <h1>{l.T("购物车", "Cart")}</h1>
              <ul class="links">{rows}</ul>
              {actions}
            </main>
            """, refresh: false, "/shop/cart");
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Demo merchant {MerchantId}: a new API key ({KeyPrefix}…) is printed once on the console")]
    private static partial void LogDemoMerchant(ILogger logger, string merchantId, string keyPrefix);
}
