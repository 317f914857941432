using System.Data.Common;
using System.Text;
using Dapper;
using Hutong.Connectors.Abstractions;
using Hutong.Server.Features.Payments;
using Hutong.Server.Observability;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Notifications;

/// <summary>
/// Inbound wallet notifications: verify the raw body first, store it, process, then acknowledge.
/// Anything that fails verification is refused and logged and changes nothing.
/// </summary>
public static partial class WalletNotificationEndpoints
{
    private const int MaxBytes = 64 * 1024;

    public static void Map(IEndpointRouteBuilder app)
    {
        // The cap holds while reading (Kestrel's per-request limit), not only against Content-Length: a chunked body has none.
        app.MapPost("/notify/{channel}", HandleAsync).ExcludeFromDescription().WithMetadata(new Microsoft.AspNetCore.Mvc.RequestSizeLimitAttribute(MaxBytes));
    }

    private static async Task<IResult> HandleAsync(
        HttpContext ctx, string channel, WalletRegistry wallets, PaymentService payments, Refunds.RefundService refunds, Payouts.PayoutService payouts, ProfitSharing.SplitFollowUpService splits, Disputes.DisputeService disputes, Db db, HubMetrics metrics, TimeProvider time, ILoggerFactory logs)
    {
        var log = logs.CreateLogger("Hutong.Notifications");
        var connector = await wallets.ChannelAsync(channel, ctx.RequestAborted);
        if (connector is null)
        {
            return Results.NotFound();
        }

        var wallet = connector.Wallet;

        if (ctx.Request.ContentLength is > MaxBytes)
        {
            return Fail(413, "FAIL", "body too large");
        }

        string body;
        try
        {
            using var reader = new StreamReader(ctx.Request.Body, Encoding.UTF8);
            body = await reader.ReadToEndAsync(ctx.RequestAborted);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return Fail(413, "FAIL", "body too large");
        }

        if (body.Length > MaxBytes) // a server without a per-request limit (not Kestrel) read it all
        {
            return Fail(413, "FAIL", "body too large");
        }

        var headers = ctx.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        var verified = await connector.VerifyNotificationAsync(headers, body, ctx.RequestAborted);
        if (!verified.Verified)
        {
            metrics.NotificationRejected();
            LogRejected(log, wallet, verified.RejectReason ?? "unknown", ctx.Connection.RemoteIpAddress?.ToString() ?? "-");
            // The wallet's own failure answer: a genuine wallet would retry, a forger learns nothing.
            return Ack(connector.Acknowledge(accepted: false));
        }

        using var span = await StartSpanAsync(db, verified.Transaction?.OutTradeNo, wallet, ctx.RequestAborted);
        var id = $"{wallet}:{verified.NotificationId}";
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var record = new { id, wallet, type = verified.EventType, no = verified.Transaction?.OutTradeNo, body, now };
        if (verified.PayoutOutBizNo is { } outBizNo)
        {
            if (await db.WriteAsync((c, t) => RecordAsync(c, t, record), ctx.RequestAborted))
            {
                // A transfer's result (WeChat Pay MCHTRANSFER.BILL.FINISHED) settles by the worker's own query, like a refund's.
                await payouts.RecheckAsync(outBizNo, ctx.RequestAborted);
                await db.WriteAsync((c, t) => MarkProcessedAsync(c, t, id, time), ctx.RequestAborted);
            }

            return Ack(connector.Acknowledge(accepted: true));
        }

        if (verified.Split is { } notice)
        {
            // A profit-sharing notice settles through the follow-up's own query, under its lease and with its conditional
            // updates: a notice never moves a split backwards, and a repeated one (same id: recorded once; another id:
            // the split is already final) changes nothing and emits nothing.
            if (await db.WriteAsync((c, t) => RecordAsync(c, t, record), ctx.RequestAborted))
            {
                await splits.RecheckAsync(notice.OutOrderNo, ctx.RequestAborted);
                await db.WriteAsync((c, t) => MarkProcessedAsync(c, t, id, time), ctx.RequestAborted);
            }

            return Ack(connector.Acknowledge(accepted: true));
        }

        if (verified.Complaint is { } complaint)
        {
            // A complaint's notification names it; the complaint itself is read with a signed query and applied with its
            // dispute.* event. Unread (the wallet did not answer): refused, so the wallet sends it again.
            if (connector is not Hutong.Connectors.Abstractions.IDisputeConnector complaints)
            {
                return Ack(connector.Acknowledge(accepted: true));
            }

            // Read again when this notification was recorded before but not processed: its first delivery met an unanswered
            // read (refused, so sent again). One already processed is acknowledged without a read, so a replayed body
            // (Alipay's carry no timestamp) costs no wallet calls. Applying is idempotent either way.
            if (!await db.WriteAsync((c, t) => RecordAsync(c, t, record), ctx.RequestAborted)
                && await db.ReadAsync(c => Dapper.SqlMapper.ExecuteScalarAsync<long?>(c, "SELECT processed_at FROM wallet_notifications WHERE id = @id", new { id }), ctx.RequestAborted) is not null)
            {
                return Ack(connector.Acknowledge(accepted: true));
            }

            if (!await disputes.SyncAsync(complaints, wallet, channel, complaint.ComplaintId, ctx.RequestAborted))
            {
                return Fail(500, "FAIL", "complaint not read yet");
            }

            await db.WriteAsync((c, t) => MarkProcessedAsync(c, t, id, time), ctx.RequestAborted);
            return Ack(connector.Acknowledge(accepted: true));
        }

        if (verified.Refund is null)
        {
            // A payment's notification is recorded, applied and marked processed in one transaction (one durable commit).
            // Should applying fail, the body is still kept, unprocessed, and the wallet's retry applies it later.
            try
            {
                await db.WriteAsync(async (c, t) =>
                {
                    if (await RecordAsync(c, t, record))
                    {
                        if (verified.Transaction is { } tx)
                        {
                            await payments.ApplyWalletTransactionAsync(c, t, tx, "notification", channel);
                        }

                        await MarkProcessedAsync(c, t, id, time);
                    }
                }, ctx.RequestAborted);
            }
            catch (Exception) when (!ctx.RequestAborted.IsCancellationRequested)
            {
                await db.WriteAsync((c, t) => RecordAsync(c, t, record), CancellationToken.None);
                throw;
            }

            return Ack(connector.Acknowledge(accepted: true));
        }

        if (await db.WriteAsync((c, t) => RecordAsync(c, t, record), ctx.RequestAborted))
        {
            // The refund's outcome settles through the same path the worker uses (a query the notification prompted),
            // so a notification and a re-query can never disagree about what was recorded.
            await refunds.RecheckAsync(verified.Refund.OutRefundNo, ctx.RequestAborted);
            await db.WriteAsync((c, t) => MarkProcessedAsync(c, t, id, time), ctx.RequestAborted);
        }

        return Ack(connector.Acknowledge(accepted: true));
    }

    /// <summary>
    /// The notification's span continues the trace of the payment it is about (stored when the payment was created) and
    /// links to this request's own span. Looked up only while something records spans.
    /// </summary>
    private static async Task<System.Diagnostics.Activity?> StartSpanAsync(Db db, string? outTradeNo, string wallet, CancellationToken ct)
    {
        if (!HubTelemetry.Source.HasListeners())
        {
            return null;
        }

        var payment = outTradeNo is null ? null : await db.ReadAsync(c => c.QuerySingleOrDefaultAsync<(string Id, string? TraceParent)?>(
            "SELECT p.id, p.trace_parent FROM payment_attempts a JOIN payments p ON p.id = a.payment_id WHERE a.out_trade_no = @outTradeNo",
            new { outTradeNo }), ct);
        var span = HubTelemetry.StartFollowUp("hutong.notification", System.Diagnostics.ActivityKind.Consumer, payment?.TraceParent, () => payment?.Id);
        span?.SetTag("hutong.wallet", wallet);
        return span;
    }

    /// <summary>Stores the notification (once per id); true while it is still to be processed.</summary>
    private static async Task<bool> RecordAsync(DbConnection c, DbTransaction t, object record)
    {
        await c.ExecuteAsync(
            "INSERT INTO wallet_notifications (id, wallet, event_type, out_trade_no, body, received_at) VALUES (@id, @wallet, @type, @no, @body, @now) ON CONFLICT DO NOTHING",
            record, t);
        return await c.ExecuteScalarAsync<long?>("SELECT processed_at FROM wallet_notifications WHERE id = @id", record, t) is null;
    }

    private static Task MarkProcessedAsync(DbConnection c, DbTransaction t, string id, TimeProvider time) =>
        c.ExecuteAsync("UPDATE wallet_notifications SET processed_at = @now WHERE id = @id", new { id, now = time.GetUtcNow().ToUnixTimeMilliseconds() }, t);

    private static IResult Fail(int status, string code, string message) =>
        Results.Json(new { code, message }, statusCode: status);

    private static IResult Ack(NotificationAck ack) =>
        ack.Body is null ? Results.StatusCode(ack.Status) : Results.Content(ack.Body, ack.ContentType, statusCode: ack.Status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rejected {Wallet} notification from {Remote}: {Reason}")]
    private static partial void LogRejected(ILogger logger, string wallet, string reason, string remote);
}
