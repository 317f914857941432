using System.Globalization;
using Hutong.Sandbox.WeChatPay;

namespace Hutong.Sandbox.Alipay;

/// <summary>
/// Alipay's asynchronous notification: a form POST signed over every field but sign and sign_type, resent until
/// the merchant answers with exactly "success" — 4m, 10m, 10m, 1h, 2h, 6h, 15h after the first (24h22m in all).
/// </summary>
public sealed class AlipaySandboxNotifier(AlipaySandboxState state, HttpClient http) : IDisposable
{
    public static readonly IReadOnlyList<TimeSpan> RetrySchedule =
    [
        TimeSpan.FromMinutes(4), TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(10), TimeSpan.FromHours(1),
        TimeSpan.FromHours(2), TimeSpan.FromHours(6), TimeSpan.FromHours(15),
    ];

    private readonly CancellationTokenSource _stop = new();

    public void NotifySuccess(AlipaySandboxOrder order)
    {
        if (string.IsNullOrEmpty(order.NotifyUrl))
        {
            return;
        }

        var fault = state.Faults.Take("notify", order.PassbackParams);
        if (fault?.Fault == SandboxFault.DropNotification)
        {
            return;
        }

        var notifyId = Guid.NewGuid().ToString("N");
        for (var i = 0; i < (fault?.Fault == SandboxFault.DuplicateNotification ? 2 : 1); i++)
        {
            state.Notifications.Dispatch(order.PassbackParams, notifyId, order.OutTradeNo, () => DeliverAsync(order, notifyId, _stop.Token), fault?.Delay ?? default);
        }
    }

    /// <summary>
    /// Sends an already sent notification again: the same notify_id and form, signature included (Alipay signs no time of
    /// sending beyond notify_time, which a resend of the same body keeps).
    /// </summary>
    public Task<ReplayResult?> ReplayAsync(string notificationId, CancellationToken ct) =>
        state.Notifications.ReplayAsync(notificationId, http, state.NotificationLog, null, ct);

    /// <summary>The signed form fields of a TRADE_SUCCESS notification for <paramref name="order"/>.</summary>
    public Dictionary<string, string> BuildForm(AlipaySandboxOrder order, string notifyId)
    {
        var china = TimeSpan.FromHours(8);
        string T(DateTimeOffset? t) => (t ?? DateTimeOffset.UtcNow).ToOffset(china).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        Dictionary<string, string> form;
        lock (order)
        {
            form = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["notify_time"] = T(DateTimeOffset.UtcNow),
                ["notify_type"] = "trade_status_sync",
                ["notify_id"] = notifyId,
                ["app_id"] = order.AppId,
                ["charset"] = "utf-8",
                ["version"] = "1.0",
                ["sign_type"] = "RSA2",
                ["trade_no"] = order.TradeNo ?? string.Empty,
                ["out_trade_no"] = order.OutTradeNo,
                ["buyer_id"] = order.BuyerId ?? string.Empty,
                ["seller_id"] = order.SellerId,
                ["trade_status"] = order.TradeStatus,
                ["total_amount"] = AlipayAmount.FromFen(order.TotalFen),
                ["receipt_amount"] = AlipayAmount.FromFen(order.ReceiptFen),
                ["buyer_pay_amount"] = AlipayAmount.FromFen(order.BuyerPayFen),
                ["invoice_amount"] = AlipayAmount.FromFen(order.BuyerPayFen),
                ["point_amount"] = "0.00",
                ["subject"] = order.Subject,
                ["gmt_create"] = T(order.Created),
                ["gmt_payment"] = T(order.Paid),
            };
            if (order.BuyerOpenId is not null)
            {
                // An application in open_id mode is told the buyer's open_id, not the 2088… buyer_id.
                form.Remove("buyer_id");
                form["buyer_open_id"] = order.BuyerOpenId;
            }

            if (order.PassbackParams is not null)
            {
                form["passback_params"] = order.PassbackParams;
            }

            if (order.VouchersUsed.Count > 0)
            {
                form["voucher_detail_list"] = AlipaySandboxVouchers.NotifyList(order);
                form["fund_bill_list"] = AlipaySandboxVouchers.NotifyFundBills(order);
            }

            if (order.AppAuthToken is not null)
            {
                form["auth_app_id"] = order.AppId;
            }
        }

        form["sign"] = AlipayGatewayCodec.Sign(state.AlipayKey, AlipayGatewayCodec.SignedText(form!, keepEmpty: false, "sign_type"));
        return form;
    }

    /// <summary>
    /// alipay.merchant.tradecomplain.changed (消息服务): a form with msg_method, app_id, notify_id, utc_timestamp, version,
    /// charset, sign_type and biz_content {"complain_event_id"}, signed like the trade notifications (every field but sign and
    /// sign_type), resent on the same schedule until the merchant answers "success".
    /// </summary>
    public void NotifyComplaintChanged(AlipaySandboxComplaint complaint)
    {
        if (string.IsNullOrEmpty(complaint.NotifyUrl))
        {
            return;
        }

        var notifyId = Guid.NewGuid().ToString("N");
        var form = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["msg_method"] = "alipay.merchant.tradecomplain.changed",
            ["app_id"] = complaint.AppId,
            ["notify_id"] = notifyId,
            ["utc_timestamp"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture),
            ["version"] = "1.1",
            ["charset"] = "utf-8",
            ["sign_type"] = "RSA2",
            ["biz_content"] = "{\"complain_event_id\":\"" + complaint.ComplainEventId + "\"}",
        };
        form["sign"] = AlipayGatewayCodec.Sign(state.AlipayKey, AlipayGatewayCodec.SignedText(form!, keepEmpty: false, "sign_type"));
        state.Notifications.Dispatch(complaint.ComplainEventId, notifyId, complaint.OutTradeNo, () => Resend.StartAsync(RetrySchedule, () => state.TimeScale, async (attempt, token) =>
        {
            int? status = null;
            var acknowledged = false;
            try
            {
                using var content = new FormUrlEncodedContent(form);
                state.Notifications.Record(new SentNotification(notifyId, complaint.OutTradeNo, complaint.NotifyUrl, await content.ReadAsStringAsync(token),
                    content.Headers.ContentType!.ToString()));
                using var response = await http.PostAsync(complaint.NotifyUrl, content, token);
                status = (int)response.StatusCode;
                acknowledged = (await response.Content.ReadAsStringAsync(token)).Trim() == "success";
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
            }

            state.NotificationLog.Enqueue(new NotificationAttempt(complaint.OutTradeNo, notifyId, attempt, status, DateTimeOffset.UtcNow));
            return acknowledged;
        }, _stop.Token));
    }

    public void Dispose()
    {
        if (!_stop.IsCancellationRequested)
        {
            _stop.Cancel();
        }
    }

    /// <summary>Sends until the merchant answers "success"; completes once the first attempt has its answer. Each body is kept for a replay.</summary>
    private Task DeliverAsync(AlipaySandboxOrder order, string notifyId, CancellationToken ct) =>
        Resend.StartAsync(RetrySchedule, () => state.TimeScale, async (attempt, token) =>
        {
            int? status = null;
            var acknowledged = false;
            try
            {
                using var content = new FormUrlEncodedContent(BuildForm(order, notifyId));
                state.Notifications.Record(new SentNotification(notifyId, order.OutTradeNo, order.NotifyUrl!, await content.ReadAsStringAsync(token),
                    content.Headers.ContentType!.ToString()));
                using var response = await http.PostAsync(order.NotifyUrl, content, token);
                status = (int)response.StatusCode;
                acknowledged = (await response.Content.ReadAsStringAsync(token)).Trim() == "success";
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
            }

            state.NotificationLog.Enqueue(new NotificationAttempt(order.OutTradeNo, notifyId, attempt, status, DateTimeOffset.UtcNow));
            return acknowledged;
        }, ct);
}
