using System.Text;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Hutong.Sandbox.WeChatPay;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hutong.Sandbox.UnionPay;

public sealed class UnionPaySandboxOrder
{
    public required string MerId { get; init; }

    public required string OrderId { get; init; }

    public required string TxnTime { get; init; }

    public required long TxnAmt { get; init; }

    public required string BackUrl { get; set; }

    public string? ReqReserved { get; init; }

    public DateTimeOffset? PayTimeout { get; init; }

    public required string QrToken { get; init; }

    /// <summary>07 a merchant-presented QR (申码), 06 a payment code (被扫), 01 an app consumption (tn).</summary>
    public string TxnSubType { get; init; } = "07";

    /// <summary>000000 for the QR product, 000201 for app consumption.</summary>
    public string BizType { get; init; } = "000000";

    /// <summary>The app consumption's tn (受理订单号), which the buyer's UnionPay app SDK pays.</summary>
    public string? Tn { get; init; }

    /// <summary>冲正 done: nothing of it stays charged (a paid one is returned in full).</summary>
    public bool Reversed { get; set; }

    /// <summary>For a refund (退货): the queryId of the payment it returns money from.</summary>
    public string? RefundOf { get; init; }

    /// <summary>origRespCode of the order: 05 issued and waiting, 03 a payment code whose buyer is confirming, 00 paid, 12 lapsed, 01 reversed.</summary>
    public string OrigRespCode { get; set; } = "05";

    public string? QueryId { get; set; }

    public string? AccNo { get; set; }

    public DateTimeOffset? Paid { get; set; }

    public string QrCode => $"https://qr.95516.com/00010000/{QrToken}";

    /// <summary>A paid order's discount, one entry per sponsor (couponInfo); a test may change them to make the wallet drift.</summary>
    public List<UnionPaySandboxCouponPart> Coupons { get; } = [];

    /// <summary>couponInfo text sent verbatim instead of <see cref="Coupons"/> (a test's lever for a malformed report).</summary>
    public string? RawCouponInfo { get; set; }

    /// <summary>The merchant-funded part of the discount: entries whose spnsrId is a 15-character merchant code.</summary>
    public long MerchantDiscount => Coupons.Where(c => c.SpnsrId.Length == 15).Sum(c => c.OffstAmt);

    /// <summary>For a 退货: the merchant-funded and the whole discount it returned (pro rata, see UnionPaySandboxCoupons).</summary>
    public long MerchantDiscountReturned { get; set; }

    /// <inheritdoc cref="MerchantDiscountReturned"/>
    public long DiscountReturned { get; set; }

    /// <summary>
    /// settleAmt (清算金额): a payment's amount less its merchant-funded discount (UnionPay's and the bank's parts are settled
    /// to the merchant), a 退货's amount less the merchant-funded part it returns.
    /// </summary>
    public long SettleAmt => RefundOf is null ? TxnAmt - MerchantDiscount : TxnAmt - MerchantDiscountReturned;
}

public sealed record RegisterUnionPayMerchantRequest(string MerId, string CertId, string PublicKeyPem);

public sealed record RegisterUnionPayMerchantResponse(string UnionPaySigningCertPem);

public sealed record UnionPayBuyerPayRequest(string QrCode, string? AccNo);

/// <summary>The buyer's UnionPay app SDK paying the tn the merchant's app was given.</summary>
public sealed record UnionPayAppPayRequest(string Tn, string? AccNo);

/// <summary>
/// The UnionPay 全渠道 side: back-end QR application and query, each verified with the merchant's key and answered as
/// signed k=v fields carrying UnionPay's signing certificate; backUrl notifications resent at 1, 2, 4, 8 and 16 minutes
/// until the merchant answers HTTP 200 (the resend gaps are this sandbox's reading, not a quoted figure).
/// </summary>
public sealed partial class UnionPaySandbox : IDisposable
{
    public static readonly IReadOnlyList<TimeSpan> RetrySchedule =
        [TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(4), TimeSpan.FromMinutes(8), TimeSpan.FromMinutes(16)];

    private static readonly TimeSpan ChinaOffset = TimeSpan.FromHours(8);
    private readonly HttpClient _http;
    private readonly CancellationTokenSource _stop = new();

    public UnionPaySandbox(HttpClient http)
    {
        _http = http;
        SigningKey = RSA.Create(2048);
        var req = new CertificateRequest("CN=中国银联股份有限公司 Sandbox Signing, O=China UnionPay Sandbox", SigningKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        SigningCert = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(5));
    }

    public RSA SigningKey { get; }

    public X509Certificate2 SigningCert { get; }

    public SandboxFaults Faults { get; } = new();

    /// <summary>1.0 = the real resend schedule; tests use 0.001.</summary>
    public double TimeScale { get; set; } = 1.0;

    public ConcurrentDictionary<string, (string CertId, RSA Key)> Merchants { get; } = new(StringComparer.Ordinal);

    /// <summary>The fee the sandbox settles on each payment, in basis points (returned pro rata on a 退货).</summary>
    public int FeeBasisPoints { get; set; } = 60;

    public ConcurrentDictionary<(string MerId, string OrderId), UnionPaySandboxOrder> Orders { get; } = new();

    public ConcurrentDictionary<string, UnionPaySandboxOrder> OrdersByQr { get; } = new(StringComparer.Ordinal);

    public ConcurrentDictionary<string, UnionPaySandboxOrder> OrdersByTn { get; } = new(StringComparer.Ordinal);

    /// <summary>The buyers' payment codes (云闪付 付款码) this sandbox knows.</summary>
    public UnionPayBuyerCodes BuyerCodes { get; } = new();

    /// <summary>The buyers' discount activities (POST /sandbox/unionpay/buyer/coupons), by card number.</summary>
    public UnionPaySandboxCoupons Coupons { get; } = new();

    public ConcurrentQueue<NotificationAttempt> NotificationLog { get; } = new();

    /// <summary>
    /// Rows the settlement file of their China day carries beside the sandbox's own payments and 退货: transactions of
    /// other types in ZM (a 消费撤销, a 预授权…) and 差错/adjustment entries in a ZME file. The sandbox does not make these
    /// itself; tests add them to see the hub report what it cannot match.
    /// </summary>
    public ConcurrentQueue<UnionPaySettledRow> ExtraSettledRows { get; } = new();

    /// <inheritdoc cref="ExtraSettledRows"/>
    public ConcurrentQueue<UnionPayErrorFileRow> ErrorFileRows { get; } = new();

    /// <summary>Notifications held back, released in a chosen order, and kept for replay (by queryId: UnionPay sends no notification id).</summary>
    public SandboxNotifications Notifications { get; } = new();

    public void Map(IEndpointRouteBuilder app)
    {
        app.MapPost("/gateway/api/backTransReq.do", (HttpContext ctx) => HandleAsync(ctx, query: false)).DisableAntiforgery();
        app.MapPost("/gateway/api/appTransReq.do", (HttpContext ctx) => HandleAsync(ctx, query: false, app: true)).DisableAntiforgery();
        app.MapPost("/gateway/api/queryTrans.do", (HttpContext ctx) => HandleAsync(ctx, query: true)).DisableAntiforgery();
        app.MapPost("/gateway/api/fileTransRequest.do", FileTransferAsync).DisableAntiforgery();
        var g = app.MapGroup("/sandbox/unionpay");
        g.MapPost("/merchants", (RegisterUnionPayMerchantRequest r) =>
        {
            var key = RSA.Create();
            key.ImportFromPem(r.PublicKeyPem);
            Merchants[r.MerId] = (r.CertId, key);
            return Results.Ok(new RegisterUnionPayMerchantResponse(SigningCert.ExportCertificatePem()));
        });
        SandboxControl.MapFaults(g, Faults);
        SandboxControl.MapTimeScale(g, () => TimeScale, scale => TimeScale = scale);
        SandboxControl.MapNotifications(g, Notifications, (id, ct) => Notifications.ReplayAsync(id, _http, NotificationLog, null, ct));
        g.MapPost("/buyer/pay", (UnionPayBuyerPayRequest r) => Pay(r) is { } error
            ? Results.BadRequest(new { code = "NOT_PAYABLE", message = error })
            : Results.Ok(new { qr_code = r.QrCode, orig_resp_code = "00" }));
        g.MapPost("/app/pay", (UnionPayAppPayRequest r) => PayTn(r) is { } error
            ? Results.BadRequest(new { code = "NOT_PAYABLE", message = error })
            : Results.Ok(new { tn = r.Tn, orig_resp_code = "00" }));
        MapBuyerCodes(g);
        Coupons.Map(g);
        g.MapGet("/buyer", (string? qr_code) => Results.Content(BuyerPage(qr_code, null), "text/html; charset=utf-8"));
        g.MapPost("/buyer", async (HttpRequest request) =>
        {
            var form = await request.ReadFormAsync();
            var error = Pay(new UnionPayBuyerPayRequest(form["qr_code"].ToString(), null));
            return Results.Content(BuyerPage(form["qr_code"], error is null ? "支付成功 Payment succeeded" : $"支付失败 {error}"), "text/html; charset=utf-8");
        }).DisableAntiforgery();
    }

    /// <summary>The buyer's UnionPay app pays a scanned code; returns an error message or null.</summary>
    public string? Pay(UnionPayBuyerPayRequest r)
    {
        const string prefix = "https://qr.95516.com/00010000/";
        if (r.QrCode is null || !r.QrCode.StartsWith(prefix, StringComparison.Ordinal) || !OrdersByQr.TryGetValue(r.QrCode[prefix.Length..], out var order))
        {
            return "二维码无效";
        }

        return PayOrder(order, r.AccNo);
    }

    /// <summary>The buyer's app pays an app consumption's tn; returns an error message or null.</summary>
    public string? PayTn(UnionPayAppPayRequest r) =>
        r.Tn is { Length: > 0 } && OrdersByTn.TryGetValue(r.Tn, out var order) ? PayOrder(order, r.AccNo) : "tn 无效";

    /// <summary>Pays a waiting order (05 issued, 03 a code whose buyer is confirming) and sends its backUrl notification.</summary>
    internal string? PayOrder(UnionPaySandboxOrder order, string? accNo)
    {
        lock (order)
        {
            if (order.OrigRespCode is not ("05" or "03"))
            {
                return $"订单状态 {order.OrigRespCode}";
            }

            if (order.PayTimeout is { } t && t <= DateTimeOffset.UtcNow)
            {
                order.OrigRespCode = "12";
                return "二维码已过期";
            }

            order.OrigRespCode = "00";
            order.QueryId = DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture) + RandomNumberGenerator.GetString("0123456789", 7);
            order.AccNo = accNo ?? "6216****" + RandomNumberGenerator.GetString("0123456789", 4);
            order.Paid = DateTimeOffset.UtcNow;
            // The card's discount activity, if the order covers one (at most one per transaction).
            if (Coupons.Use(accNo, order.TxnAmt) is { } activity)
            {
                order.Coupons.AddRange(UnionPaySandboxCoupons.Parts(activity, order.MerId));
                order.RawCouponInfo = activity.RawCouponInfo;
            }
        }

        var fault = Faults.Take("notify", order.ReqReserved);
        if (fault?.Fault != SandboxFault.DropNotification)
        {
            for (var i = 0; i < (fault?.Fault == SandboxFault.DuplicateNotification ? 2 : 1); i++)
            {
                Notifications.Dispatch(order.ReqReserved, order.QueryId!, order.OrderId, () => DeliverAsync(order, _stop.Token), fault?.Delay ?? default);
            }
        }

        return null;
    }

    /// <summary>The signed backUrl fields for a paid order, or for a completed 退货 (txnType=04, with origQryId).</summary>
    public SortedDictionary<string, string> NotificationFields(UnionPaySandboxOrder o)
    {
        SortedDictionary<string, string> f;
        lock (o)
        {
            f = o.RefundOf is null ? Fields(o.MerId, "01", o.TxnSubType, o.OrderId, o.TxnTime) : Fields(o.MerId, "04", "00", o.OrderId, o.TxnTime);
            f["bizType"] = o.BizType;
            if (o.RefundOf is not null)
            {
                f["origQryId"] = o.RefundOf;
            }

            f["respCode"] = "00";
            f["respMsg"] = "成功[0000000]";
            f["txnAmt"] = o.TxnAmt.ToString(CultureInfo.InvariantCulture);
            f["settleAmt"] = o.SettleAmt.ToString(CultureInfo.InvariantCulture);
            if (o.RefundOf is null && CouponInfo(o) is { } couponInfo)
            {
                f["couponInfo"] = couponInfo; // plain JSON text in the form field, as a recorded UnionPay QR notification carries it
            }

            f["currencyCode"] = "156";
            f["settleCurrencyCode"] = "156";
            f["queryId"] = o.QueryId ?? string.Empty;
            f["traceNo"] = o.QueryId?[^6..] ?? string.Empty;
            f["traceTime"] = (o.Paid ?? DateTimeOffset.UtcNow).ToOffset(ChinaOffset).ToString("MMddHHmmss", CultureInfo.InvariantCulture);
            f["settleDate"] = (o.Paid ?? DateTimeOffset.UtcNow).ToOffset(ChinaOffset).ToString("MMdd", CultureInfo.InvariantCulture);
            f["accNo"] = o.AccNo ?? string.Empty;
            if (o.ReqReserved is not null)
            {
                f["reqReserved"] = o.ReqReserved;
            }
        }

        return Signed(f);
    }

    /// <summary>A paid order's couponInfo, or null without a discount.</summary>
    internal static string? CouponInfo(UnionPaySandboxOrder o) =>
        o.RawCouponInfo ?? (o.Coupons.Count > 0 ? UnionPaySandboxCoupons.CouponInfo(o.Coupons) : null);

    public void Dispose()
    {
        if (!_stop.IsCancellationRequested)
        {
            _stop.Cancel();
        }

        SigningKey.Dispose();
        SigningCert.Dispose();
    }

    /// <summary>
    /// 文件传输 (txnType=76, fileType=00): the settlement file of settleDate (MMdd, this year or last), as Base64 of a ZIP.
    /// The rows are the day's paid orders and completed 退货, in the real fixed-width ZM layout (see AcpSettlementFile).
    /// </summary>
    private async Task FileTransferAsync(HttpContext ctx)
    {
        var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
        var f = form.ToDictionary(k => k.Key, v => v.Value.ToString(), StringComparer.Ordinal);
        var merId = f.GetValueOrDefault("merId") ?? string.Empty;
        var reply = Fields(merId, "76", f.GetValueOrDefault("txnSubType") ?? "01", string.Empty, f.GetValueOrDefault("txnTime") ?? string.Empty);
        reply.Remove("orderId");
        if (!Merchants.TryGetValue(merId, out var merchant) || f.GetValueOrDefault("certId") != merchant.CertId
            || f.GetValueOrDefault("signMethod") != "01" || !AcpGatewayCodec.Verify(merchant.Key, f))
        {
            await WriteAsync(ctx, Answer(reply, "11", "验证签名失败[9100004]"));
            return;
        }

        var china = DateTimeOffset.UtcNow.ToOffset(TimeSpan.FromHours(8));
        if (f.GetValueOrDefault("txnType") != "76" || f.GetValueOrDefault("fileType") != "00"
            || !DateTime.TryParseExact($"{china.Year}{f.GetValueOrDefault("settleDate")}", "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var settle))
        {
            await WriteAsync(ctx, Answer(reply, "30", "报文格式错误"));
            return;
        }

        var date = DateOnly.FromDateTime(settle);
        if (date > DateOnly.FromDateTime(china.DateTime))
        {
            date = date.AddYears(-1); // MMdd after today means last year's
        }

        bool OnDay(DateTimeOffset? t) => t is { } v && DateOnly.FromDateTime(v.ToOffset(TimeSpan.FromHours(8)).DateTime) == date;
        var rows = new List<AcpSettledTransaction>();
        var mine = Orders.Values.Where(o => o.MerId == merId).ToList();
        // A 冲正 undoes its consumption the same day: neither is settled.
        foreach (var o in mine.Where(o => o.RefundOf is null && o.Paid is not null && !o.Reversed && OnDay(o.Paid)).OrderBy(o => o.Paid))
        {
            // The fee is charged on what UnionPay settles (the amount less the merchant-funded discount).
            rows.Add(new AcpSettledTransaction("01", o.OrderId, o.QueryId!, o.TxnAmt, SandboxFees.Fee(o.SettleAmt, FeeBasisPoints), o.Paid!.Value, null,
                o.SettleAmt, o.Coupons.Sum(c => c.OffstAmt)));
        }

        foreach (var paid in mine.Where(o => o.RefundOf is null && o.QueryId is not null))
        {
            var fee = SandboxFees.Fee(paid.SettleAmt, FeeBasisPoints);
            long before = 0;
            foreach (var r in mine.Where(o => o.RefundOf == paid.QueryId && o.OrigRespCode == "00").OrderBy(o => o.TxnTime, StringComparer.Ordinal))
            {
                var back = SandboxFees.Returned(fee, paid.TxnAmt, before, r.TxnAmt);
                before += r.TxnAmt;
                var at = new DateTimeOffset(DateTime.ParseExact(r.TxnTime, "yyyyMMddHHmmss", CultureInfo.InvariantCulture), TimeSpan.FromHours(8));
                if (OnDay(at))
                {
                    rows.Add(new AcpSettledTransaction("04", r.OrderId, r.QueryId!, r.TxnAmt, -back, at, paid.QueryId, r.SettleAmt, r.DiscountReturned));
                }
            }
        }

        rows.AddRange(ExtraSettledRows.Where(r => r.MerId == merId && OnDay(r.Transmitted))
            .Select(r => new AcpSettledTransaction(r.TxnType, r.OrderId, r.QueryId, r.Amount, 0, r.Transmitted, r.OrigQryId)));
        var errors = ErrorFileRows.Where(r => r.MerId == merId && OnDay(r.Transmitted)).ToList();

        reply["settleDate"] = f["settleDate"];
        reply["fileType"] = "00";
        reply["fileName"] = $"{AcpSettlementFile.EntryName(merId, date)}.zip";
        reply["fileContent"] = Convert.ToBase64String(AcpSettlementFile.Zip(merId, date, rows, errors));
        await WriteAsync(ctx, Answer(reply, "00", "成功[0000000]"));
    }

    private async Task HandleAsync(HttpContext ctx, bool query, bool app = false)
    {
        var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
        var f = form.ToDictionary(k => k.Key, v => v.Value.ToString(), StringComparer.Ordinal);
        var merId = f.GetValueOrDefault("merId") ?? string.Empty;
        var reply = Fields(merId, f.GetValueOrDefault("txnType") ?? string.Empty, f.GetValueOrDefault("txnSubType") ?? string.Empty,
            f.GetValueOrDefault("orderId") ?? string.Empty, f.GetValueOrDefault("txnTime") ?? string.Empty);
        reply["bizType"] = f.GetValueOrDefault("bizType") ?? "000000"; // echoed as sent

        if (!Merchants.TryGetValue(merId, out var merchant) || f.GetValueOrDefault("certId") != merchant.CertId
            || f.GetValueOrDefault("signMethod") != "01" || !AcpGatewayCodec.Verify(merchant.Key, f))
        {
            await WriteAsync(ctx, Answer(reply, "11", "验证签名失败[9100004]"));
            return;
        }

        var orderId = f.GetValueOrDefault("orderId") ?? string.Empty;
        var existing = Orders.GetValueOrDefault((merId, orderId));
        // A 退货 carries no reqReserved of its own: it is scoped by the paid order's, so a test can fault one payment's refunds.
        var attach = existing?.ReqReserved ?? f.GetValueOrDefault("reqReserved")
            ?? (f.GetValueOrDefault("origQryId") is { Length: > 0 } orig ? Orders.Values.FirstOrDefault(o => o.MerId == merId && o.QueryId == orig)?.ReqReserved : null);
        var fault = Faults.Next(query ? "query" : "apply", attach, ctx);
        switch (fault)
        {
            case SandboxFault.TimeoutBefore:
                await Resend.HangAsync(ctx, Faults);
                return;
            case SandboxFault.ServerError:
                ctx.Response.StatusCode = 503;
                return;
            case SandboxFault.ParamError:
                await WriteAsync(ctx, Answer(reply, "30", "报文格式错误 (injected)"));
                return;
        }

        var answer = query ? Query(reply, existing, f)
            : app ? ApplyApp(reply, merId, orderId, f)
            : f.GetValueOrDefault("txnType") switch
            {
                "04" => Refund(reply, merId, orderId, f),
                "99" => Reverse(reply, existing, f),
                _ when f.GetValueOrDefault("txnSubType") == "06" => PayWithCode(reply, merId, orderId, f),
                _ => Apply(reply, merId, orderId, f),
            };
        if (!await SandboxFaults.AnswerLateAsync(ctx))
        {
            return;
        }

        if (fault == SandboxFault.TimeoutAfter)
        {
            await Resend.HangAsync(ctx, Faults);
            return;
        }

        if (fault == SandboxFault.BadResponseSignature)
        {
            answer["signature"] = Convert.ToBase64String(new byte[256]);
        }

        await WriteAsync(ctx, answer);
    }

    private SortedDictionary<string, string> Apply(SortedDictionary<string, string> reply, string merId, string orderId, Dictionary<string, string> f)
    {
        if (f.GetValueOrDefault("txnType") != "01" || f.GetValueOrDefault("txnSubType") != "07" || f.GetValueOrDefault("bizType") != "000000"
            || f.GetValueOrDefault("currencyCode") != "156" || orderId.Length is < 8 or > 40 || !orderId.All(char.IsAsciiLetterOrDigit)
            || !long.TryParse(f.GetValueOrDefault("txnAmt"), NumberStyles.None, CultureInfo.InvariantCulture, out var amt) || amt < 1
            || string.IsNullOrEmpty(f.GetValueOrDefault("backUrl")))
        {
            return Answer(reply, "30", "报文格式错误：txnType/txnSubType/bizType/orderId/txnAmt/currencyCode/backUrl");
        }

        DateTimeOffset? timeout = DateTime.TryParseExact(f.GetValueOrDefault("payTimeout"), "yyyyMMddHHmmss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var t)
            ? new DateTimeOffset(t, ChinaOffset) : null;
        var order = Orders.GetOrAdd((merId, orderId), _ => new UnionPaySandboxOrder
        {
            MerId = merId, OrderId = orderId, TxnTime = f.GetValueOrDefault("txnTime") ?? string.Empty, TxnAmt = amt,
            BackUrl = f["backUrl"], ReqReserved = f.GetValueOrDefault("reqReserved"), PayTimeout = timeout,
            QrToken = RandomNumberGenerator.GetString("0123456789", 20),
        });
        OrdersByQr.TryAdd(order.QrToken, order);
        if (order.TxnAmt != amt || order.TxnTime != f.GetValueOrDefault("txnTime"))
        {
            return Answer(reply, "12", "重复交易[2011012]");
        }

        if (order.OrigRespCode != "05")
        {
            return Answer(reply, "12", "重复交易：订单已支付或已失效");
        }

        var ok = Answer(reply, "00", "成功[0000000]", sign: false);
        ok["qrCode"] = order.QrCode;
        return Signed(ok);
    }

    /// <summary>退货 against a paid order's queryId; recorded as its own order (origRespCode 00 once accepted).</summary>
    private SortedDictionary<string, string> Refund(SortedDictionary<string, string> reply, string merId, string orderId, Dictionary<string, string> f)
    {
        var paid = Orders.Values.FirstOrDefault(o => o.MerId == merId && o.QueryId is not null && o.QueryId == f.GetValueOrDefault("origQryId"));
        if (paid is null || !long.TryParse(f.GetValueOrDefault("txnAmt"), NumberStyles.None, CultureInfo.InvariantCulture, out var amt) || amt < 1)
        {
            return Answer(reply, "35", "原交易不存在或状态不正确[2011000]");
        }

        lock (paid)
        {
            var refunded = Orders.Values.Where(o => o.RefundOf == paid.QueryId && o.OrderId != orderId).Sum(o => o.TxnAmt);
            if (refunded + amt > paid.TxnAmt)
            {
                return Answer(reply, "61", "退货金额超限[2011061]");
            }

            var refund = Orders.GetOrAdd((merId, orderId), _ => new UnionPaySandboxOrder
            {
                MerId = merId, OrderId = orderId, TxnTime = f.GetValueOrDefault("txnTime") ?? string.Empty, TxnAmt = amt,
                BackUrl = f.GetValueOrDefault("backUrl") ?? string.Empty, QrToken = RandomNumberGenerator.GetString("0123456789", 20),
                RefundOf = paid.QueryId, OrigRespCode = "00",
            });
            if (refund.TxnAmt != amt)
            {
                return Answer(reply, "12", "重复交易[2011012]");
            }

            var fresh = refund.QueryId is null;
            if (fresh && paid.Coupons.Count > 0)
            {
                // What this 退货 returns of the discount: each sponsor kind in proportion, on the running refunded total.
                var merchant = paid.MerchantDiscount;
                var all = paid.Coupons.Sum(c => c.OffstAmt);
                refund.MerchantDiscountReturned = UnionPaySandboxCoupons.Share(merchant, paid.TxnAmt, refunded, amt);
                refund.DiscountReturned = refund.MerchantDiscountReturned + UnionPaySandboxCoupons.Share(all - merchant, paid.TxnAmt, refunded, amt);
            }

            refund.QueryId ??= DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture) + RandomNumberGenerator.GetString("0123456789", 7);
            refund.Paid ??= DateTimeOffset.UtcNow;
            if (fresh && refund.BackUrl.Length > 0)
            {
                // The 退货 result goes to its backUrl too; held with the paid order's (the hub's payment id).
                Notifications.Dispatch(paid.ReqReserved, refund.QueryId, refund.OrderId, () => DeliverAsync(refund, _stop.Token));
            }
            var ok = Answer(reply, "00", "成功[0000000]", sign: false);
            ok["queryId"] = refund.QueryId;
            ok["origQryId"] = paid.QueryId!;
            ok["txnAmt"] = amt.ToString(CultureInfo.InvariantCulture);
            return Signed(ok);
        }
    }

    private SortedDictionary<string, string> Query(SortedDictionary<string, string> reply, UnionPaySandboxOrder? order, Dictionary<string, string> f)
    {
        if (order is null || order.TxnTime != f.GetValueOrDefault("txnTime"))
        {
            return Answer(reply, "34", "查无此交易[2011000]");
        }

        lock (order)
        {
            if (order.OrigRespCode == "05" && order.PayTimeout is { } t && t <= DateTimeOffset.UtcNow)
            {
                order.OrigRespCode = "12";
            }

            var ok = Answer(reply, "00", "成功[0000000]", sign: false);
            ok["origRespCode"] = order.OrigRespCode;
            ok["origRespMsg"] = order.Reversed ? "交易已冲正" : order.OrigRespCode switch
            {
                "00" => "成功[0000000]", "05" => "已受理，待付款", "03" => "交易处理中，待持卡人确认", "01" => "交易失败", _ => "二维码已失效",
            };
            ok["txnAmt"] = order.TxnAmt.ToString(CultureInfo.InvariantCulture);
            ok["currencyCode"] = "156";
            if (order.QueryId is not null)
            {
                // settleAmt/settleCurrencyCode/settleDate as UnionPay's test environment answers them (Samples/UnionPay/queryTrans-answer.txt).
                ok["settleAmt"] = order.SettleAmt.ToString(CultureInfo.InvariantCulture);
                ok["settleCurrencyCode"] = "156";
                ok["settleDate"] = order.Paid!.Value.ToOffset(ChinaOffset).ToString("MMdd", CultureInfo.InvariantCulture);
                if (order.RefundOf is null && CouponInfo(order) is { } couponInfo)
                {
                    ok["couponInfo"] = couponInfo;
                }

                ok["queryId"] = order.QueryId;
                ok["accNo"] = order.AccNo ?? string.Empty;
                ok["traceTime"] = order.Paid!.Value.ToOffset(ChinaOffset).ToString("MMddHHmmss", CultureInfo.InvariantCulture);
            }

            return Signed(ok);
        }
    }

    internal static SortedDictionary<string, string> Fields(string merId, string txnType, string txnSubType, string orderId, string txnTime) => new(StringComparer.Ordinal)
    {
        ["version"] = "5.1.0",
        ["encoding"] = "UTF-8",
        ["signMethod"] = "01",
        ["bizType"] = "000000",
        ["accessType"] = "0",
        ["merId"] = merId,
        ["txnType"] = txnType,
        ["txnSubType"] = txnSubType,
        ["orderId"] = orderId,
        ["txnTime"] = txnTime,
    };

    internal SortedDictionary<string, string> Answer(SortedDictionary<string, string> reply, string code, string msg, bool sign = true)
    {
        var a = new SortedDictionary<string, string>(reply, StringComparer.Ordinal) { ["respCode"] = code, ["respMsg"] = msg };
        return sign ? Signed(a) : a;
    }

    internal SortedDictionary<string, string> Signed(SortedDictionary<string, string> f)
    {
        f["signPubKeyCert"] = SigningCert.ExportCertificatePem();
        f["signature"] = AcpGatewayCodec.Sign(SigningKey, f);
        return f;
    }

    private static async Task WriteAsync(HttpContext ctx, IEnumerable<KeyValuePair<string, string>> fields)
    {
        // The real gateway answers raw k=v text (see AcpGatewayCodec.RawAnswer), never a form-encoded body.
        ctx.Response.ContentType = "text/plain; charset=UTF-8";
        await ctx.Response.WriteAsync(AcpGatewayCodec.RawAnswer(fields), ctx.RequestAborted);
    }

    /// <summary>Sends until the merchant answers 200; completes once the first attempt has its answer. Each body is kept for a replay.</summary>
    private Task DeliverAsync(UnionPaySandboxOrder order, CancellationToken ct) =>
        Resend.StartAsync(RetrySchedule, () => TimeScale, async (attempt, token) =>
        {
            int? status = null;
            try
            {
                using var content = new FormUrlEncodedContent(NotificationFields(order));
                Notifications.Record(new SentNotification(order.QueryId ?? string.Empty, order.OrderId, order.BackUrl, await content.ReadAsStringAsync(token),
                    content.Headers.ContentType!.ToString()));
                using var response = await _http.PostAsync(order.BackUrl, content, token);
                status = (int)response.StatusCode;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
            }

            NotificationLog.Enqueue(new NotificationAttempt(order.OrderId, order.QueryId ?? string.Empty, attempt, status, DateTimeOffset.UtcNow));
            return status == 200;
        }, ct);

    private string BuyerPage(string? qrCode, string? message)
    {
        var order = qrCode is not null && qrCode.Contains("/00010000/", StringComparison.Ordinal)
            ? OrdersByQr.GetValueOrDefault(qrCode[(qrCode.LastIndexOf('/') + 1)..]) : null;
        var e = (string? s) => WebUtility.HtmlEncode(s ?? string.Empty);
        var amount = order is null ? string.Empty : $"¥{order.TxnAmt / 100}.{order.TxnAmt % 100:00}";
        var payable = order is null || order.OrigRespCode == "05"; // paid or expired: nothing left to confirm
        return $"""
            <!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
            <title>UnionPay sandbox buyer</title></head><body style="font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto">
            <h1>云闪付 · Sandbox buyer</h1><p id="result" role="status">{e(message)}</p>
            <p id="order">{(order is null ? string.Empty : $"<strong>{amount}</strong> ({e(order.OrigRespCode)})")}</p>
            <form method="post" action="/sandbox/unionpay/buyer"><input type="hidden" name="qr_code" value="{e(qrCode)}">
            <button type="submit" style="background:{(payable ? "#e60012" : "#6b6b6b")};color:#fff;border:0;padding:.8rem 2rem;border-radius:.4rem"{(payable ? string.Empty : " disabled")}>{(payable ? "确认付款 Pay" : "已付款 Paid")}</button></form></body></html>
            """;
    }
}
