using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hutong.Sandbox.WeChatPay;

public sealed record RegisterMerchantRequest(
    string MchId, string AppId, string SerialNo, string PublicKeyPem, string ApiV3Key, string? Mode, IReadOnlyList<string>? SubMchIds = null,
    string? AppSecret = null, string? MiniProgramAppId = null, string? MiniProgramSecret = null, string? MobileAppId = null);

public sealed record RegisterMerchantResponse(string PlatformPublicKeyId, string PlatformPublicKeyPem, string PlatformCertificateSerial);

/// <summary>A fault for the control API of any sandbox wallet; <c>delay_ms</c> goes with <c>"fault":"delay"</c> only.</summary>
public sealed record FaultRequest(string Operation, SandboxFault Fault, int Count = 1, string? Match = null, int? DelayMs = null);

public sealed record BuyerPayRequest(string CodeUrl, string? OpenId, string? Result);

public sealed record BuyerPayResponse(string OutTradeNo, string TradeState, string? TransactionId);

/// <summary>
/// What is not WeChat's: registering merchants, injecting faults, scaling time, and the "buyer app"
/// that scans a code_url and pays. Lives under /sandbox/wechatpay.
/// </summary>
public static class WeChatSandboxControl
{
    public static void Map(IEndpointRouteBuilder app, WeChatSandboxState state, WeChatSandboxNotifier notifier)
    {
        var g = app.MapGroup("/sandbox/wechatpay");

        g.MapPost("/merchants", (RegisterMerchantRequest r) =>
        {
            var key = RSA.Create();
            key.ImportFromPem(r.PublicKeyPem);
            var apiV3 = Encoding.UTF8.GetBytes(r.ApiV3Key);
            if (apiV3.Length != 32)
            {
                return Results.BadRequest(new { code = "PARAM_ERROR", message = "APIv3 key must be 32 bytes" });
            }

            var merchant = new SandboxMerchant
            {
                MchId = r.MchId,
                AppId = r.AppId,
                SerialNo = r.SerialNo,
                PublicKey = key,
                ApiV3Key = apiV3,
                Mode = string.Equals(r.Mode, "certificate", StringComparison.OrdinalIgnoreCase) ? PlatformKeyMode.Certificate : PlatformKeyMode.PublicKey,
            };
            foreach (var sub in r.SubMchIds ?? [])
            {
                merchant.SubMerchants[sub] = true;
            }

            state.Merchants[r.MchId] = merchant;
            // The apps bound to the merchant (公众号, 小程序, 移动应用), with the secrets their OAuth checks.
            state.InApp.Apps[r.AppId] = (r.AppSecret, r.MchId, "official_account");
            if (r.MiniProgramAppId is not null)
            {
                state.InApp.Apps[r.MiniProgramAppId] = (r.MiniProgramSecret, r.MchId, "mini_program");
            }

            if (r.MobileAppId is not null)
            {
                state.InApp.Apps[r.MobileAppId] = (null, r.MchId, "app");
            }
            return Results.Ok(new RegisterMerchantResponse(state.PublicKeyId, state.PlatformPublicKeyPem, state.CertificateSerial));
        });

        SandboxControl.MapFaults(g, state.Faults);
        SandboxControl.MapTimeScale(g, () => state.TimeScale, scale => state.TimeScale = scale);
        SandboxControl.MapNotifications(g, state.Notifications, notifier.ReplayAsync);
        g.MapGet("/notifications", () => Results.Ok(state.NotificationLog.ToArray()));
        WeChatSandboxCoupons.Map(g, state);

        g.MapPost("/buyer/pay", (BuyerPayRequest r) => Pay(state, notifier, r) switch
        {
            { Error: null } ok => Results.Ok(ok.Response),
            var bad => Results.BadRequest(new { code = bad.Error, message = bad.Message }),
        });

        // The payee's WeChat opening a merchant transfer's confirmation page (wx.requestMerchantTransfer with package_info):
        // confirm, decline, or let it lapse.
        g.MapPost("/buyer/transfer", (BuyerTransferRequest r) => WeChatSandboxEndpoints.ActOnTransfer(state, notifier, r) switch
        {
            { Error: null } ok => Results.Ok(ok.Response),
            var bad => Results.BadRequest(new { code = bad.Error, message = bad.Message }),
        });
        g.MapGet("/buyer/transfer", (string? package_info) => Results.Content(TransferPage(state, package_info, null), "text/html; charset=utf-8"));
        g.MapPost("/buyer/transfer/form", async (HttpRequest request) =>
        {
            var form = await request.ReadFormAsync();
            var result = WeChatSandboxEndpoints.ActOnTransfer(state, notifier, new BuyerTransferRequest(form["package_info"].ToString(), form["action"].ToString()));
            return Results.Content(TransferPage(state, form["package_info"], result.Error is null ? "已处理 Done" : $"失败 {result.Message}"), "text/html; charset=utf-8");
        }).DisableAntiforgery();

        // A stand-in for the WeChat app: a page that "scans" a code_url and pays with one button.
        g.MapGet("/buyer", (string? code_url) => Results.Content(BuyerPage(state, code_url, null), "text/html; charset=utf-8"));
        g.MapPost("/buyer", async (HttpRequest request) =>
        {
            var form = await request.ReadFormAsync();
            var result = Pay(state, notifier, new BuyerPayRequest(form["code_url"].ToString(), form["openid"].ToString(), form["result"].ToString()));
            var message = result.Error is null ? "支付成功 Payment succeeded" : $"支付失败 {result.Message}";
            return Results.Content(BuyerPage(state, form["code_url"], message), "text/html; charset=utf-8");
        }).DisableAntiforgery();
    }

    public static (BuyerPayResponse? Response, string? Error, string? Message) Pay(WeChatSandboxState state, WeChatSandboxNotifier notifier, BuyerPayRequest r)
    {
        var token = r.CodeUrl?.StartsWith("weixin://wxpay/bizpayurl?pr=", StringComparison.Ordinal) == true ? r.CodeUrl["weixin://wxpay/bizpayurl?pr=".Length..] : null;
        if (token is null || !state.OrdersByCode.TryGetValue(token, out var order) || order.TradeType != "NATIVE")
        {
            return (null, "INVALID_CODE", "二维码无效 (not a WeChat Pay code of this sandbox)");
        }

        return PayOrder(state, notifier, order, string.IsNullOrEmpty(r.OpenId) ? null : r.OpenId, r.Result);
    }

    /// <summary>The buyer pays <paramref name="order"/> (or fails to, with <paramref name="result"/> PAYERROR); the notification follows.</summary>
    public static (BuyerPayResponse? Response, string? Error, string? Message) PayOrder(
        WeChatSandboxState state, WeChatSandboxNotifier notifier, SandboxOrder order, string? openId, string? result)
    {
        lock (order)
        {
            if (order.TradeState != "NOTPAY" && order.TradeState != "PAYERROR")
            {
                return (null, "ORDER_NOT_PAYABLE", $"订单状态为 {order.TradeState}");
            }

            if (order.TimeExpire is { } exp && exp <= DateTimeOffset.UtcNow)
            {
                return (null, "ORDER_EXPIRED", "二维码已过期");
            }

            if (string.Equals(result, "PAYERROR", StringComparison.Ordinal))
            {
                order.TradeState = "PAYERROR";
                order.TradeStateDesc = "支付失败，请重新下单支付";
                return (new BuyerPayResponse(order.OutTradeNo, order.TradeState, null), null, null);
            }

            order.TradeState = "SUCCESS";
            order.TradeStateDesc = "支付成功";
            order.TransactionId = "4200" + RandomNumberGenerator.GetString("0123456789", 24);
            order.PayerOpenId = openId ?? "oSandbox" + WeChatSandboxEndpoints.RandomString(20);
            order.Promotions.AddRange(state.Coupons.Use(openId, order.Total)); // the buyer's coupons that fit the order
            order.SuccessTime = DateTimeOffset.UtcNow;
        }

        notifier.NotifySuccess(order);
        return (new BuyerPayResponse(order.OutTradeNo, order.TradeState, order.TransactionId), null, null);
    }

    /// <summary>The payee's confirmation page (what wx.requestMerchantTransfer opens): accept or decline a merchant transfer.</summary>
    private static string TransferPage(WeChatSandboxState state, string? packageInfo, string? message)
    {
        var bill = packageInfo is null ? null : state.TransfersByPackage.GetValueOrDefault(packageInfo);
        var e = (string? s) => WebUtility.HtmlEncode(s ?? string.Empty);
        var waiting = bill?.State == "WAIT_USER_CONFIRM";
        var amount = bill is null ? string.Empty : $"¥{bill.Amount / 100}.{bill.Amount % 100:00}";
        return $"""
            <!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
            <title>WeChat Pay sandbox payee</title></head>
            <body><h1>确认收款 · Sandbox payee</h1>
            <p role="status" id="result">{e(message)}</p>
            <p id="bill">{(bill is null ? "" : $"{e(bill.Remark)} — <strong>{amount}</strong> ({e(bill.State)})")}</p>
            <form method="post" action="/sandbox/wechatpay/buyer/transfer/form">
              <input type="hidden" name="package_info" value="{e(packageInfo)}">
              <button type="submit" name="action" value="confirm"{(waiting ? string.Empty : " disabled")}>确认收款 Accept</button>
              <button type="submit" name="action" value="decline"{(waiting ? string.Empty : " disabled")}>拒绝 Decline</button>
            </form></body></html>
            """;
    }

    private static string BuyerPage(WeChatSandboxState state, string? codeUrl, string? message)
    {
        var order = codeUrl is not null && codeUrl.Contains("pr=", StringComparison.Ordinal)
            ? state.OrdersByCode.GetValueOrDefault(codeUrl[(codeUrl.IndexOf("pr=", StringComparison.Ordinal) + 3)..])
            : null;
        var e = (string? s) => WebUtility.HtmlEncode(s ?? string.Empty);
        var amount = order is null ? string.Empty : $"¥{order.Total / 100}.{order.Total % 100:00}";
        // Like the real app: once the order is paid (or closed) there is nothing left to confirm, so the button is off.
        var payable = order is null || order.TradeState is "NOTPAY" or "PAYERROR";
        return $"""
            <!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
            <title>WeChat Pay sandbox buyer</title>
            <style>body{"{"}font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem{"}"}button{"{"}background:#07c160;color:#fff;border:0;padding:.8rem 2rem;border-radius:.4rem;font-size:1rem{"}"}button:disabled{"{"}background:#6b6b6b;cursor:default{"}"}input{"{"}max-width:100%;box-sizing:border-box{"}"}</style></head>
            <body><h1>微信支付 · Sandbox buyer</h1>
            <p role="status" id="result">{e(message)}</p>
            <form method="post" action="/sandbox/wechatpay/buyer">
              <label>code_url <input name="code_url" value="{e(codeUrl)}" size="40"></label>
              <p id="order">{(order is null ? "" : $"{e(order.Description)} — <strong>{amount}</strong> ({e(order.TradeState)})")}</p>
              <input type="hidden" name="openid" value="">
              <button type="submit" name="result" value="SUCCESS"{(payable ? string.Empty : " disabled")}>{(payable ? "确认支付 Pay" : "已支付 Paid")}</button>
            </form></body></html>
            """;
    }
}
