using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hutong.Sandbox.Alipay;

public sealed record RegisterAlipayAppRequest(string AppId, string PublicKeyPem, string? SellerId);

public sealed record RegisterAlipayAppResponse(string AlipayPublicKeyPem, string SellerId);

public sealed record AlipayBuyerPayRequest(string QrCode, string? BuyerId);

public sealed record AlipayBuyerPayResponse(string OutTradeNo, string TradeStatus, string TradeNo);

/// <summary>Not Alipay's: app registration, ISV authorisation tokens, faults, time scale, notifications on demand, and the buyer's app. Under /sandbox/alipay.</summary>
public static class AlipaySandboxControl
{
    public static void Map(IEndpointRouteBuilder app, AlipaySandboxState state, AlipaySandboxNotifier notifier)
    {
        var g = app.MapGroup("/sandbox/alipay");
        g.MapPost("/apps", (RegisterAlipayAppRequest r) =>
        {
            var key = RSA.Create();
            key.ImportFromPem(r.PublicKeyPem);
            var seller = r.SellerId ?? "2088" + RandomNumberGenerator.GetString("0123456789", 12);
            state.Apps[r.AppId] = new AlipaySandboxApp { AppId = r.AppId, PublicKey = key, SellerId = seller };
            return Results.Ok(new RegisterAlipayAppResponse(state.AlipayPublicKeyPem, seller));
        });
        g.MapPost("/app_auth_tokens", (string sellerId) =>
        {
            var token = "202611BB" + Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
            state.AuthTokens[token] = sellerId;
            return Results.Ok(new { app_auth_token = token, user_id = sellerId });
        });
        SandboxControl.MapFaults(g, state.Faults);
        AlipaySandboxVouchers.Map(g, state);
        AlipaySandboxEndpoints.MapComplaints(g, state, notifier);
        SandboxControl.MapTimeScale(g, () => state.TimeScale, scale => state.TimeScale = scale);
        SandboxControl.MapNotifications(g, state.Notifications, notifier.ReplayAsync);
        g.MapGet("/notifications", () => Results.Ok(state.NotificationLog.ToArray()));
        g.MapPost("/buyer/pay", (AlipayBuyerPayRequest r) => Pay(state, notifier, r) switch
        {
            { Error: null } ok => Results.Ok(ok.Response),
            var bad => Results.BadRequest(new { code = bad.Error, message = bad.Message }),
        });
        // A stand-in for the Alipay app: "scan" a qr_code and land on the cashier.
        g.MapGet("/buyer", (string? qr_code) =>
            qr_code is not null && qr_code.StartsWith("https://qr.alipay.com/", StringComparison.Ordinal) && state.OrdersByQr.TryGetValue(qr_code["https://qr.alipay.com/".Length..], out var order)
                ? Results.Content(CashierPage(order, null, null), "text/html; charset=utf-8")
                : Results.Content("<!doctype html><p>Open this page with ?qr_code=https://qr.alipay.com/…</p>", "text/html; charset=utf-8"));
        g.MapPost("/cashier/{qrToken}", async (string qrToken, HttpRequest request) =>
        {
            var form = await request.ReadFormAsync();
            if (!state.OrdersByQr.TryGetValue(qrToken, out var order))
            {
                return Results.NotFound();
            }

            var result = Pay(state, notifier, new AlipayBuyerPayRequest(order.QrCode, null));
            return Results.Content(CashierPage(order, form["return_url"], result.Error is null ? "支付成功 Payment succeeded" : $"支付失败 {result.Message}"), "text/html; charset=utf-8");
        }).DisableAntiforgery();
    }

    public static (AlipayBuyerPayResponse? Response, string? Error, string? Message) Pay(AlipaySandboxState state, AlipaySandboxNotifier notifier, AlipayBuyerPayRequest r)
    {
        const string prefix = "https://qr.alipay.com/";
        if (r.QrCode is null || !r.QrCode.StartsWith(prefix, StringComparison.Ordinal) || !state.OrdersByQr.TryGetValue(r.QrCode[prefix.Length..], out var order))
        {
            return (null, "INVALID_CODE", "二维码无效");
        }

        lock (order)
        {
            if (order.TradeStatus != "WAIT_BUYER_PAY")
            {
                return (null, "ORDER_NOT_PAYABLE", $"交易状态为 {order.TradeStatus}");
            }

            if (order.TimeExpire is { } exp && exp <= DateTimeOffset.UtcNow)
            {
                return (null, "ORDER_EXPIRED", "交易已过期");
            }

            order.TradeStatus = "TRADE_SUCCESS";
            order.TradeNo = DateTime.UtcNow.ToString("yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture) + "22001" + RandomNumberGenerator.GetString("0123456789", 15);
            order.BuyerId = r.BuyerId ?? "2088" + RandomNumberGenerator.GetString("0123456789", 12);
            order.Paid = DateTimeOffset.UtcNow;
            order.VouchersUsed.AddRange(AlipaySandboxVouchers.Use(state, r.BuyerId, order.TotalFen)); // the buyer's vouchers that fit
        }

        notifier.NotifySuccess(order);
        return (new AlipayBuyerPayResponse(order.OutTradeNo, order.TradeStatus, order.TradeNo), null, null);
    }

    /// <summary>The page a buyer lands on from page.pay / wap.pay: the order and one button.</summary>
    internal static string CashierPage(AlipaySandboxOrder order, string? returnUrl, string? message)
    {
        var e = AlipaySandboxEndpoints.Encode;
        var payable = order.TradeStatus == "WAIT_BUYER_PAY"; // paid or closed: nothing left to confirm
        var back = message is not null && returnUrl is { Length: > 0 } ? $"<p><a id=\"return\" href=\"{e(returnUrl)}\">返回商户 Back to the merchant</a></p>" : string.Empty;
        return $"""
            <!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
            <title>Alipay sandbox cashier</title></head>
            <body style="font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto">
            <h1>支付宝 · Sandbox cashier</h1>
            <p id="order">{e(order.Subject)} — <strong>¥{AlipayAmount.FromFen(order.TotalFen)}</strong> ({e(order.TradeStatus)})</p>
            <p id="result" role="status">{e(message)}</p>
            <form method="post" action="/sandbox/alipay/cashier/{e(order.QrToken)}">
              <input type="hidden" name="return_url" value="{e(returnUrl)}">
              <button type="submit" style="background:{(payable ? "#1677ff" : "#6b6b6b")};color:#fff;border:0;padding:.8rem 2rem;border-radius:.4rem"{(payable ? string.Empty : " disabled")}>{(payable ? "确认付款 Pay" : "已付款 Paid")}</button>
            </form>{back}</body></html>
            """;
    }
}
