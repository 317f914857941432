using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hutong.Sandbox;
using Hutong.Sandbox.WeChatPay;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hutong.Integration.Tests.FourthWallet.Sandbox;

/// <summary>
/// Kite Pay's side, as a sandbox wallet: merchants, orders, refunds, a bill, signed notifications with retries, a buyer
/// who pays by code URL, and the sandbox's faults ("orders", "query", "close", "refunds", "notify"; matched by the
/// order's attach, which the hub sets to its payment id). Its signing is its own code, not the connector's.
/// </summary>
public sealed class KitePaySandboxWallet : ISandboxWallet
{
    private const string Header = "X-Kite-Signature";
    private static readonly TimeSpan[] RetrySchedule = [TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(5)];
    private readonly CancellationTokenSource _stopping = new();
    private HttpClient? _notifyHttp;
    private double _timeScale = 1.0;

    public string Name => "kitepay";

    public SandboxFaults Faults { get; } = new();

    public double TimeScale
    {
        set => _timeScale = value;
    }

    public ConcurrentDictionary<string, string> Merchants { get; } = new(StringComparer.Ordinal); // id → secret

    public ConcurrentDictionary<string, KiteOrder> Orders { get; } = new(StringComparer.Ordinal); // merchant/out_trade_no

    /// <summary>Every notification delivery, logged once the hub's answer is read (HttpStatus null: no answer).</summary>
    public ConcurrentQueue<NotificationAttempt> NotificationLog { get; } = new();

    /// <summary>The order the hub made as <paramref name="outTradeNo"/>, if any.</summary>
    public KiteOrder? Order(string outTradeNo) => Orders.Values.FirstOrDefault(o => o.OutTradeNo == outTradeNo);

    public void Map(WebApplication app, HttpClient notifyHttp)
    {
        _notifyHttp = notifyHttp;
        app.MapPost("/sandbox/kitepay/merchants", () =>
        {
            var id = "kite" + RandomNumberGenerator.GetString("0123456789", 10);
            var secret = RandomNumberGenerator.GetHexString(32);
            Merchants[id] = secret;
            return Results.Json(new { merchant_id = id, secret });
        });
        app.MapPost("/sandbox/kitepay/buyer/pay", async (HttpContext ctx) =>
        {
            var body = await JsonNode.ParseAsync(ctx.Request.Body) as JsonObject;
            var codeUrl = body?["code_url"]?.GetValue<string>();
            var order = Orders.Values.FirstOrDefault(o => o.CodeUrl == codeUrl);
            if (order is null || order.Status != "NOTPAID" || order.ExpiresAt < DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())
            {
                return Results.BadRequest(new { code = "NOT_PAYABLE" });
            }

            lock (order)
            {
                order.Status = "PAID";
                order.TransactionId = "kt" + RandomNumberGenerator.GetHexString(16).ToLowerInvariant();
                order.Payer = body?["payer"]?.GetValue<string>() ?? "kite-buyer";
                order.PaidAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            }

            Notify(order);
            return Results.Json(new { code = "OK" });
        });
        var gateway = app.MapGroup("/kitepay/v1");
        Route(gateway, "orders", CreateOrder);
        Route(gateway, "orders/query", (m, o, _) => Find(m, o) is { } order ? Answer(m, 200, new() { ["code"] = "OK", ["order"] = order.Json() }) : Answer(m, 404, new() { ["code"] = "NOT_FOUND" }));
        Route(gateway, "orders/close", CloseOrder);
        Route(gateway, "refunds", CreateRefund);
        Route(gateway, "refunds/query", (m, r, _) => Find(m, r) is { } order && order.Refunds.TryGetValue(r["out_refund_no"]!.GetValue<string>(), out var refund)
            ? Answer(m, 200, new() { ["code"] = "OK", ["refund"] = refund.Json() })
            : Answer(m, 404, new() { ["code"] = "NOT_FOUND" }));
        Route(gateway, "bill", Bill);
    }

    /// <summary>A fresh merchant, and the hub's settings for it (KitePayOptions' shape).</summary>
    public async Task<JsonObject> RegisterAccountAsync(string sandboxUrl, CancellationToken ct = default)
    {
        using var http = new HttpClient { BaseAddress = new Uri(sandboxUrl) };
        var registered = await (await http.PostAsync("/sandbox/kitepay/merchants", null, ct)).EnsureSuccessStatusCode().Content.ReadFromJsonAsync<JsonObject>(ct);
        return new JsonObject { ["BaseUrl"] = sandboxUrl, ["MerchantId"] = registered!["merchant_id"]!.GetValue<string>(), ["Secret"] = registered["secret"]!.GetValue<string>() };
    }

    /// <summary>The buyer scans <paramref name="codeUrl"/> and pays, over HTTP as the sandbox app would.</summary>
    public static async Task<HttpResponseMessage> BuyerPaysAsync(string sandboxUrl, string codeUrl, string payer = "kite-buyer")
    {
        using var http = new HttpClient { BaseAddress = new Uri(sandboxUrl) };
        return await http.PostAsJsonAsync("/sandbox/kitepay/buyer/pay", new { code_url = codeUrl, payer });
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    private static string Sign(string secret, string body) =>
        Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(body)));

    private void Route(RouteGroupBuilder gateway, string path, Func<Merchant, JsonObject, HttpContext, IResult> handle)
    {
        var operation = path.Split('/')[0] == "orders" && path != "orders" ? path.Split('/')[1] : path;
        gateway.MapPost(path, async (HttpContext ctx) =>
        {
            using var reader = new StreamReader(ctx.Request.Body, Encoding.UTF8);
            var body = await reader.ReadToEndAsync(ctx.RequestAborted);
            var id = ctx.Request.Headers["X-Kite-Merchant"].ToString();
            if (body.Length > 64 * 1024 || !Merchants.TryGetValue(id, out var secret) || !CryptographicOperations.FixedTimeEquals(
                Encoding.ASCII.GetBytes(Sign(secret, body)), Encoding.ASCII.GetBytes(ctx.Request.Headers[Header].ToString())))
            {
                return Results.Json(new { code = "SIGN_ERROR", message = "the request's signature does not verify" }, statusCode: 401);
            }

            var request = JsonNode.Parse(body) as JsonObject ?? [];
            var merchant = new Merchant(id, secret);
            var attach = request["attach"]?.GetValue<string>() ?? (Find(merchant, request)?.Attach);
            switch (Faults.Next(operation, attach))
            {
                case SandboxFault.TimeoutBefore:
                    await Resend.HangAsync(ctx, Faults);
                    return Results.Empty;
                case SandboxFault.ServerError:
                    return Answer(merchant, 500, new() { ["code"] = "SYSTEM_ERROR" });
                case SandboxFault.ParamError:
                    return Answer(merchant, 400, new() { ["code"] = "PARAM_ERROR", ["message"] = "injected" });
                case SandboxFault.BadResponseSignature:
                    return Answer(merchant with { Secret = "not-the-merchant-secret" }, 200, new() { ["code"] = "OK" });
                case SandboxFault.TimeoutAfter:
                    handle(merchant, request, ctx);
                    await Resend.HangAsync(ctx, Faults);
                    return Results.Empty;
            }

            return handle(merchant, request, ctx);
        });
    }

    private IResult CreateOrder(Merchant m, JsonObject r, HttpContext ctx)
    {
        var outTradeNo = r["out_trade_no"]?.GetValue<string>();
        var amount = r["amount"]?.GetValue<long>() ?? 0;
        if (string.IsNullOrEmpty(outTradeNo) || amount is <= 0 or > 100_000_000 || r["currency"]?.GetValue<string>() != "CNY")
        {
            return Answer(m, 400, new() { ["code"] = "PARAM_ERROR", ["message"] = "out_trade_no, amount (fen, CNY) are required" });
        }

        var order = Orders.GetOrAdd($"{m.Id}/{outTradeNo}", _ => new KiteOrder
        {
            MerchantId = m.Id,
            OutTradeNo = outTradeNo,
            Amount = amount,
            Attach = r["attach"]?.GetValue<string>(),
            NotifyUrl = r["notify_url"]?.GetValue<string>() ?? string.Empty,
            ExpiresAt = r["expires_at"]?.GetValue<long>() ?? long.MaxValue,
            CodeUrl = $"kitepay://pay/{RandomNumberGenerator.GetHexString(24).ToLowerInvariant()}",
        });
        return order.Amount == amount
            ? Answer(m, 200, new() { ["code"] = "OK", ["code_url"] = order.CodeUrl })
            : Answer(m, 400, new() { ["code"] = "OUT_TRADE_NO_USED", ["message"] = "out_trade_no was used with another amount" });
    }

    private IResult CloseOrder(Merchant m, JsonObject r, HttpContext ctx)
    {
        if (Find(m, r) is not { } order)
        {
            return Answer(m, 404, new() { ["code"] = "NOT_FOUND" });
        }

        lock (order)
        {
            if (order.Status == "PAID")
            {
                return Answer(m, 400, new() { ["code"] = "ORDER_PAID", ["message"] = "a paid order cannot be closed" });
            }

            order.Status = "CLOSED";
        }

        return Answer(m, 200, new() { ["code"] = "OK" });
    }

    private IResult CreateRefund(Merchant m, JsonObject r, HttpContext ctx)
    {
        var outRefundNo = r["out_refund_no"]?.GetValue<string>();
        var amount = r["amount"]?.GetValue<long>() ?? 0;
        if (Find(m, r) is not { Status: "PAID" } order || string.IsNullOrEmpty(outRefundNo))
        {
            return Answer(m, 400, new() { ["code"] = "ORDER_NOT_PAID", ["message"] = "only a paid order can be refunded" });
        }

        lock (order)
        {
            if (order.Refunds.TryGetValue(outRefundNo, out var existing))
            {
                return Answer(m, 200, new() { ["code"] = "OK", ["refund"] = existing.Json() }); // the same request again
            }

            if (amount <= 0 || order.Refunds.Values.Sum(x => x.Amount) + amount > order.Amount)
            {
                return Answer(m, 400, new() { ["code"] = "AMOUNT_EXCEEDED", ["message"] = "refunds exceed the payment" });
            }

            var refund = new KiteRefund(outRefundNo, "kr" + RandomNumberGenerator.GetHexString(16).ToLowerInvariant(), amount, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            order.Refunds[outRefundNo] = refund;
            return Answer(m, 200, new() { ["code"] = "OK", ["refund"] = refund.Json() });
        }
    }

    private IResult Bill(Merchant m, JsonObject r, HttpContext ctx)
    {
        if (!DateOnly.TryParseExact(r["date"]?.GetValue<string>(), "yyyy-MM-dd", out var date))
        {
            return Answer(m, 400, new() { ["code"] = "PARAM_ERROR", ["message"] = "date is yyyy-MM-dd" });
        }

        var china = TimeSpan.FromHours(8);
        bool OnDay(long ms) => DateOnly.FromDateTime(DateTimeOffset.FromUnixTimeMilliseconds(ms).ToOffset(china).DateTime) == date;
        var lines = new JsonArray();
        foreach (var o in Orders.Values.Where(o => o.MerchantId == m.Id && o.Status == "PAID"))
        {
            if (OnDay(o.PaidAt))
            {
                lines.Add(new JsonObject { ["kind"] = "payment", ["out_trade_no"] = o.OutTradeNo, ["transaction_id"] = o.TransactionId, ["amount"] = o.Amount, ["fee"] = (o.Amount * 30 + 5_000) / 10_000 /* to the nearest fen, as wallets bill */, ["status"] = "PAID", ["at"] = o.PaidAt });
            }

            foreach (var x in o.Refunds.Values.Where(x => OnDay(x.At)))
            {
                lines.Add(new JsonObject { ["kind"] = "refund", ["out_trade_no"] = o.OutTradeNo, ["transaction_id"] = o.TransactionId, ["out_refund_no"] = x.OutRefundNo, ["amount"] = x.Amount, ["fee"] = 0, ["status"] = "SUCCEEDED", ["at"] = x.At });
            }
        }

        return Answer(m, 200, new() { ["code"] = "OK", ["lines"] = lines });
    }

    private KiteOrder? Find(Merchant m, JsonObject r) =>
        r["out_trade_no"]?.GetValue<string>() is { } no && Orders.TryGetValue($"{m.Id}/{no}", out var order) ? order : null;

    private static IResult Answer(Merchant m, int status, JsonObject body)
    {
        var text = body.ToJsonString();
        return new SignedResult(status, text, Sign(m.Secret, text));
    }

    /// <summary>The payment notification for <paramref name="order"/> as the wallet sends it (a fresh id): the body, and its signature.</summary>
    public (string Body, string Signature) Notification(KiteOrder order)
    {
        var body = new JsonObject { ["id"] = "kn" + RandomNumberGenerator.GetHexString(16).ToLowerInvariant(), ["event"] = "payment.succeeded", ["order"] = order.Json() }.ToJsonString();
        return (body, Sign(Merchants[order.MerchantId], body));
    }

    private void Notify(KiteOrder order)
    {
        var fault = Faults.Next("notify", order.Attach);
        if (fault is SandboxFault.DropNotification)
        {
            return;
        }

        var (body, signature) = Notification(order);
        var id = JsonNode.Parse(body)!["id"]!.GetValue<string>();
        for (var copy = 0; copy < (fault is SandboxFault.DuplicateNotification ? 2 : 1); copy++)
        {
            _ = Resend.UntilAcknowledgedAsync(RetrySchedule, () => _timeScale, async (attempt, ct) =>
            {
                int? status = null;
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, order.NotifyUrl) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
                    request.Headers.Add(Header, signature);
                    using var response = await _notifyHttp!.SendAsync(request, ct);
                    status = (int)response.StatusCode;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                }

                NotificationLog.Enqueue(new NotificationAttempt(order.OutTradeNo, id, attempt, status, DateTimeOffset.UtcNow));
                return status is >= 200 and < 300;
            }, _stopping.Token);
        }
    }

    private sealed record Merchant(string Id, string Secret);

    /// <summary>A signed answer: the signature covers the exact bytes sent.</summary>
    private sealed class SignedResult(int status, string body, string signature) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = status;
            httpContext.Response.ContentType = "application/json; charset=utf-8";
            httpContext.Response.Headers[Header] = signature;
            return httpContext.Response.WriteAsync(body);
        }
    }
}

public sealed class KiteOrder
{
    public required string MerchantId { get; init; }

    public required string OutTradeNo { get; init; }

    public required long Amount { get; init; }

    public string? Attach { get; init; }

    public required string NotifyUrl { get; init; }

    public required long ExpiresAt { get; init; }

    public required string CodeUrl { get; init; }

    public string Status { get; set; } = "NOTPAID";

    public string? TransactionId { get; set; }

    public string? Payer { get; set; }

    public long PaidAt { get; set; }

    public ConcurrentDictionary<string, KiteRefund> Refunds { get; } = new(StringComparer.Ordinal);

    public JsonObject Json() => new()
    {
        ["merchant_id"] = MerchantId,
        ["out_trade_no"] = OutTradeNo,
        ["status"] = Status,
        ["amount"] = Amount,
        ["currency"] = "CNY",
        ["transaction_id"] = TransactionId,
        ["payer"] = Payer,
        ["paid_at"] = Status == "PAID" ? PaidAt : null,
    };
}

public sealed record KiteRefund(string OutRefundNo, string RefundId, long Amount, long At)
{
    public JsonObject Json() => new() { ["out_refund_no"] = OutRefundNo, ["refund_id"] = RefundId, ["amount"] = Amount, ["status"] = "SUCCEEDED" };
}
