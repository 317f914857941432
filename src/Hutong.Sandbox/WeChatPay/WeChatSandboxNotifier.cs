using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Hutong.Sandbox.WeChatPay;

/// <summary>
/// Sends TRANSACTION.SUCCESS and REFUND.SUCCESS notifications the way WeChat Pay does: JSON envelope, resource encrypted
/// with the merchant's APIv3 key, signed headers, and the published retry schedule until the merchant
/// answers 200 or 204.
/// </summary>
public sealed class WeChatSandboxNotifier(WeChatSandboxState state, HttpClient http) : IDisposable
{
    /// <summary>15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h — 24h4m in all.</summary>
    public static readonly IReadOnlyList<TimeSpan> RetrySchedule =
    [
        TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(3),
        TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(20), TimeSpan.FromMinutes(30), TimeSpan.FromMinutes(30),
        TimeSpan.FromMinutes(30), TimeSpan.FromMinutes(60), TimeSpan.FromHours(3), TimeSpan.FromHours(3),
        TimeSpan.FromHours(3), TimeSpan.FromHours(6), TimeSpan.FromHours(6),
    ];

    private readonly CancellationTokenSource _stop = new();

    public void NotifySuccess(SandboxOrder order)
    {
        var fault = state.Faults.Take("notify", order.Attach);
        if (fault?.Fault == SandboxFault.DropNotification)
        {
            return;
        }

        var copies = fault?.Fault == SandboxFault.DuplicateNotification ? 2 : 1;
        var id = Guid.NewGuid().ToString();
        for (var i = 0; i < copies; i++)
        {
            state.Notifications.Dispatch(order.Attach, id, order.OutTradeNo, () => DeliverAsync(order, id, () => BuildRequest(order, id), _stop.Token), fault?.Delay ?? default);
        }
    }

    /// <summary>REFUND.SUCCESS to the refund's notify_url, encrypted and signed like a payment notification, on the same schedule.</summary>
    public void NotifyRefund(SandboxOrder order, SandboxRefund refund)
    {
        var fault = refund.NotifyUrl is null ? null : state.Faults.Take("notify", order.Attach);
        if (refund.NotifyUrl is null || fault?.Fault == SandboxFault.DropNotification)
        {
            return;
        }

        var id = Guid.NewGuid().ToString();
        state.Notifications.Dispatch(order.Attach, id, order.OutTradeNo, () => DeliverAsync(order, id, () =>
        {
            string plaintext;
            lock (order)
            {
                plaintext = WeChatSandboxEndpoints.RefundNotificationJson(order, refund);
            }

            return Build(order, id, "REFUND.SUCCESS", "refund", "退款成功", plaintext, refund.NotifyUrl, null);
        }, _stop.Token), fault?.Delay ?? default);
    }

    /// <summary>
    /// MCHTRANSFER.BILL.FINISHED to the bill's notify_url once it ended (SUCCESS, FAIL, CANCELLED), encrypted and signed like a
    /// payment notification (original_type mch_payment), on the same retry schedule. Faults: operation "notify", match the out_bill_no.
    /// </summary>
    public void NotifyTransfer(SandboxTransferBill bill)
    {
        var fault = bill.NotifyUrl is null ? null : state.Faults.Take("notify", bill.OutBillNo);
        if (bill.NotifyUrl is null || fault?.Fault == SandboxFault.DropNotification)
        {
            return;
        }

        var id = Guid.NewGuid().ToString();
        var account = bill.SpMchId ?? bill.MchId; // a partner bill is told to the service provider that made it
        state.Notifications.Dispatch(bill.OutBillNo, id, bill.OutBillNo, () => DeliverAsync(bill.OutBillNo, account, id, () =>
            Build(account, id, "MCHTRANSFER.BILL.FINISHED", "mch_payment", "商家转账单据终态通知", WeChatSandboxEndpoints.TransferNotificationJson(bill), bill.NotifyUrl, null),
            _stop.Token), fault?.Delay ?? default);
    }

    /// <summary>
    /// 分账动账通知: PROFITSHARING.SUCCESS when a receiver is paid, PROFITSHARING.RETURN when money is returned from it, to
    /// the payment's notify_url, encrypted and signed like the others. The resource as WeChat publishes it
    /// (https://pay.weixin.qq.com/docs/merchant/apis/profit-sharing/notice-division.html; transcribed in
    /// TheNorthMemory/wechatpay.js.org webhook/v3/PROFITSHARING.SUCCESS.md): mchid (sp_mchid + sub_mchid for a service
    /// provider), transaction_id, order_id, out_order_no, receiver {type, account, amount, description}, success_time.
    /// A "profitsharing_notify" fault keyed by the payment's attach drops it or sends it twice (two ids).
    /// </summary>
    public void NotifyProfitSharing(SandboxOrder order, SandboxSplitOrder split, string type, string account, long amount, string description, bool returned)
    {
        var fault = state.Faults.Take("profitsharing_notify", order.Attach);
        if (fault?.Fault == SandboxFault.DropNotification)
        {
            return;
        }

        var copies = fault?.Fault == SandboxFault.DuplicateNotification ? 2 : 1;
        for (var i = 0; i < copies; i++)
        {
            var id = Guid.NewGuid().ToString();
            var eventType = returned ? "PROFITSHARING.RETURN" : "PROFITSHARING.SUCCESS";
            state.ProfitSharingNotifications.Enqueue((split.OutOrderNo, eventType, id));
            state.Notifications.Dispatch(order.Attach, id, order.OutTradeNo, () => DeliverAsync(order, id, () =>
            {
                var plaintext = JsonSerializer.Serialize(new Dictionary<string, object?>
                {
                    [order.SpMchId is null ? "mchid" : "sp_mchid"] = order.SpMchId ?? order.MchId,
                    ["sub_mchid"] = order.SpMchId is null ? null : order.MchId,
                    ["transaction_id"] = order.TransactionId,
                    ["order_id"] = split.OrderId,
                    ["out_order_no"] = split.OutOrderNo,
                    ["receiver"] = new { type, account, amount, description },
                    ["success_time"] = DateTimeOffset.UtcNow.ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture),
                }.Where(kv => kv.Value is not null).ToDictionary(kv => kv.Key, kv => kv.Value), WeChatSandboxEndpoints.Json);
                return Build(order, id, eventType, "profitsharing", returned ? "分账回退" : "分账", plaintext, order.NotifyUrl, null);
            }, _stop.Token), fault?.Delay ?? default);
        }
    }

    /// <summary>
    /// Sends an already sent notification again, as WeChat's resends do: the same id and body, with fresh
    /// Wechatpay-Timestamp/Nonce headers and a signature over them (the merchant refuses a stale timestamp).
    /// </summary>
    public Task<ReplayResult?> ReplayAsync(string notificationId, CancellationToken ct) =>
        state.Notifications.ReplayAsync(notificationId, http, state.NotificationLog, (request, sent) =>
        {
            if (state.Merchants.TryGetValue(sent.Account ?? string.Empty, out var merchant))
            {
                SignHeaders(request, merchant, sent.Body, null);
            }
        }, ct);

    /// <summary>Builds one signed, encrypted notification request as WeChat would send it now.</summary>
    public HttpRequestMessage BuildRequest(SandboxOrder order, string notificationId, string? forgedSignature = null)
    {
        string plaintext;
        lock (order)
        {
            plaintext = WeChatSandboxEndpoints.TransactionJson(order);
        }

        return Build(order, notificationId, "TRANSACTION.SUCCESS", "transaction", "支付成功", plaintext, order.NotifyUrl, forgedSignature);
    }

    /// <summary>
    /// COMPLAINT.CREATE / COMPLAINT.STATE_CHANGE to the URL the merchant registered (complaint-notifications), encrypted and
    /// signed like a payment notification, on the same retry schedule. Nothing is sent to a merchant that registered none.
    /// </summary>
    public void NotifyComplaint(SandboxComplaint complaint, string eventType, string actionType)
    {
        var account = complaint.Order.SpMchId ?? complaint.Order.MchId;
        if (!state.Complaints.NotifyUrls.TryGetValue(account, out var url))
        {
            return;
        }

        var fault = state.Faults.Take("notify", complaint.Order.Attach);
        if (fault?.Fault == SandboxFault.DropNotification)
        {
            return;
        }

        var id = Guid.NewGuid().ToString();
        var plaintext = WeChatSandboxEndpoints.ComplaintNotificationJson(complaint, actionType);
        var summary = eventType == "COMPLAINT.CREATE" ? "产生新投诉" : "投诉单状态变化";
        state.Notifications.Dispatch(complaint.Order.Attach, id, complaint.Order.OutTradeNo, () => DeliverAsync(complaint.Order, id,
            () => Build(account, id, eventType, "complaint", summary, plaintext, url, null), _stop.Token), fault?.Delay ?? default);
    }

    /// <summary>The complaints filed about <paramref name="order"/>.</summary>
    public IReadOnlyList<SandboxComplaint> ComplaintsOf(SandboxOrder order) =>
        state.Complaints.Complaints.Values.Where(c => ReferenceEquals(c.Order, order)).ToList();

    private HttpRequestMessage Build(SandboxOrder order, string notificationId, string eventType, string originalType, string summary, string plaintext, string url, string? forgedSignature) =>
        // A service provider decrypts its sub-merchants' notifications.
        Build(order.SpMchId ?? order.MchId, notificationId, eventType, originalType, summary, plaintext, url, forgedSignature);

    private HttpRequestMessage Build(string account, string notificationId, string eventType, string originalType, string summary, string plaintext, string url, string? forgedSignature)
    {
        var merchant = state.Merchants[account];
        var nonce = WeChatSandboxEndpoints.RandomString(12);
        var body = JsonSerializer.Serialize(new
        {
            id = notificationId,
            create_time = DateTimeOffset.UtcNow.ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture),
            resource_type = "encrypt-resource",
            event_type = eventType,
            summary,
            resource = new
            {
                original_type = originalType,
                algorithm = "AEAD_AES_256_GCM",
                ciphertext = WeChatPlatformCodec.Encrypt(merchant.ApiV3Key, nonce, originalType, plaintext),
                associated_data = originalType,
                nonce,
            },
        }, WeChatSandboxEndpoints.Json);

        var request = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        SignHeaders(request, merchant, body, forgedSignature);
        return request;
    }

    private void SignHeaders(HttpRequestMessage request, SandboxMerchant merchant, string body, string? forgedSignature)
    {
        var ts = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var headerNonce = WeChatSandboxEndpoints.RandomString(32);
        request.Headers.Add("Wechatpay-Timestamp", ts);
        request.Headers.Add("Wechatpay-Nonce", headerNonce);
        request.Headers.Add("Wechatpay-Serial", state.SerialFor(merchant));
        request.Headers.Add("Wechatpay-Signature-Type", WeChatPlatformCodec.SignatureType);
        request.Headers.Add("Wechatpay-Signature", forgedSignature
            ?? WeChatPlatformCodec.SignResponse(state.PlatformKey, ts, headerNonce, body));
    }

    public void Dispose()
    {
        if (!_stop.IsCancellationRequested)
        {
            _stop.Cancel();
        }
    }

    /// <summary>
    /// Sends a notification (built afresh each time, so its timestamp is current) until acknowledged or the schedule ends;
    /// completes once the first attempt has its answer. Each body sent is kept for a replay.
    /// </summary>
    private Task DeliverAsync(SandboxOrder order, string notificationId, Func<HttpRequestMessage> build, CancellationToken ct) =>
        DeliverAsync(order.OutTradeNo, order.SpMchId ?? order.MchId, notificationId, build, ct);

    private Task DeliverAsync(string outNo, string account, string notificationId, Func<HttpRequestMessage> build, CancellationToken ct) =>
        Resend.StartAsync(RetrySchedule, () => state.TimeScale, async (attempt, token) =>
        {
            int? status = null;
            try
            {
                using var request = build();
                state.Notifications.Record(new SentNotification(notificationId, outNo, request.RequestUri!.ToString(),
                    await request.Content!.ReadAsStringAsync(token), "application/json; charset=utf-8", account));
                using var response = await http.SendAsync(request, token);
                status = (int)response.StatusCode;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // Counted as a failed delivery; the schedule goes on.
            }

            state.NotificationLog.Enqueue(new NotificationAttempt(outNo, notificationId, attempt, status, DateTimeOffset.UtcNow));
            return status is 200 or 204;
        }, ct);
}
