using System.Globalization;
using System.Text.Json;
using Dapper;
using Hutong.Connectors.Abstractions;
using Hutong.Domain;
using Hutong.Domain.Payments;
using Hutong.Domain.Refunds;
using Hutong.Server.Features.Ledger;
using Hutong.Server.Features.Payments;
using Hutong.Server.Features.Refunds;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Reconciliation;

/// <summary>One difference between a wallet's bill and the hub's books, and what the run did about it.</summary>
/// <param name="Kind">
/// missing_in_hub, missing_in_wallet, amount_mismatch, status_mismatch, fee_mismatch, settlement_mismatch and coupon_mismatch
/// (the bill's settled amount or coupon column differ from the coupons the hub booked), unhandled_transaction_type (a bill
/// row of a type the hub does not reconcile, e.g. a UnionPay 消费撤销) or wallet_adjustment (a wallet's error/adjustment
/// entry, UnionPay's ZME file); for profit-sharing bills (分账账单) split_missing_in_hub, split_missing_in_wallet,
/// split_amount_mismatch (OutTradeNo is then the split's out_order_no or the return's out_return_no) and
/// split_bill_unavailable (the bill could not be had or read).
/// </param>
/// <param name="Resolution">repaired (a re-query proved the wallet right and the hub now agrees) or open (needs a person).</param>
public sealed record Discrepancy(
    string Kind, string Channel, string Wallet, string OutTradeNo, string? OutRefundNo, long? HubAmount, long? WalletAmount, string Resolution, string Detail);

public sealed record ChannelReconciliation(
    string RunId, string Channel, string Wallet, string Status, int BillLines, int Matched, int Repaired, IReadOnlyList<Discrepancy> Discrepancies, string? Error);

public sealed record ReconciliationReport(string BillDate, IReadOnlyList<ChannelReconciliation> Channels)
{
    public IEnumerable<Discrepancy> Discrepancies => Channels.SelectMany(c => c.Discrepancies);
}

/// <summary>
/// 对账: downloads each channel's bill for a China day and matches it against the hub — payments by out_trade_no,
/// refunds by out_refund_no. A line the hub has in another state is re-queried at the wallet and, when the answer
/// proves it, applied through the same code path as a notification (repaired); everything else is reported, never
/// changed by guesswork. Each run is stored with its findings.
/// </summary>
public sealed partial class ReconciliationService(
    Db db, WalletRegistry wallets, PaymentService payments, PaymentStore store, RefundService refunds, LedgerStore ledger, TimeProvider time, ILogger<ReconciliationService> log)
{
    public static readonly TimeSpan China = TimeSpan.FromHours(8);

    private sealed class HubPayment
    {
        public string AttemptId { get; set; } = string.Empty;

        public string OutTradeNo { get; set; } = string.Empty;

        public string PaymentId { get; set; } = string.Empty;

        public long Amount { get; set; }

        /// <summary>1 when the attempt is the payment's own (0: a second capture the hub is refunding).</summary>
        public long Current { get; set; }

        /// <summary>The merchant-borne coupons recorded on the payment (0: none).</summary>
        public long MerchantDiscount { get; set; }
    }

    private sealed class HubRefund
    {
        public string OutRefundNo { get; set; } = string.Empty;

        public string OutTradeNo { get; set; } = string.Empty;

        public long Amount { get; set; }

        /// <summary>The merchant-borne coupons this refund returned, as the ledger posted it (0: none).</summary>
        public long MerchantPart { get; set; }

        /// <summary>The wallet-settled coupons this refund returned, as the ledger posted it (0: none).</summary>
        public long WalletPart { get; set; }
    }

    /// <summary>What one channel's run found so far: its discrepancies, and the lines that matched or were repaired.</summary>
    private sealed class Findings(string channel, string wallet)
    {
        private readonly List<Discrepancy> _all = [];

        public IReadOnlyList<Discrepancy> All => _all;

        public int Matched { get; set; }

        public int Repaired { get; set; }

        public void Add(string kind, string outTradeNo, string? outRefundNo, long? hub, long? walletAmount, string resolution, string detail) =>
            _all.Add(new Discrepancy(kind, channel, wallet, outTradeNo, outRefundNo, hub, walletAmount, resolution, detail));
    }

    public async Task<ReconciliationReport> RunAsync(DateOnly date, IProgress<(string Channel, int Done, int Total)>? progress, CancellationToken ct)
    {
        var channels = (await wallets.WalletsAsync(ct)).Keys.Concat((await wallets.ListAsync(ct)).Select(c => c.Id)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var results = new List<ChannelReconciliation>();
        for (var i = 0; i < channels.Count; i++)
        {
            progress?.Report((channels[i], i, channels.Count));
            results.Add(await RunChannelAsync(date, channels[i], ct));
        }

        progress?.Report(("done", channels.Count, channels.Count));
        return new ReconciliationReport(date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), results);
    }

    private async Task<ChannelReconciliation> RunChannelAsync(DateOnly date, string channel, CancellationToken ct)
    {
        var started = time.GetUtcNow();
        var connector = await wallets.ChannelAsync(channel, ct);
        if (connector is null)
        {
            return await SaveAsync(date, channel, "?", started, null, 0, 0, [], "channel not found");
        }

        var bill = await connector.DownloadBillAsync(date, ct);
        if (bill.Outcome != WalletCallOutcome.Ok)
        {
            LogBillFailed(log, channel, date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), bill.Error?.Message ?? "-");
            return await SaveAsync(date, channel, connector.Wallet, started, null, 0, 0, [], $"bill not available: {bill.Error?.Code} {bill.Error?.Message}");
        }

        var (hubPayments, hubRefunds) = await HubBooksAsync(date, channel, ct);
        var found = new Findings(channel, connector.Wallet);
        await MatchPaymentsAsync(bill.Lines!, hubPayments, connector, found, ct);
        await MatchRefundsAsync(bill.Lines!, hubRefunds, found, ct);
        ReportForAPerson(bill.Lines!, found);
        var splitLines = connector is ISplitBillConnector splitBills ? await MatchSplitBillAsync(date, channel, splitBills, found, ct) : 0;
        return await SaveAsync(date, channel, connector.Wallet, started, bill.Lines!.Count + splitLines, found.Matched, found.Repaired, found.All, null);
    }

    /// <summary>The hub's succeeded payments (by attempt) and refunds on <paramref name="channel"/> during the China day.</summary>
    private Task<(List<HubPayment> Payments, List<HubRefund> Refunds)> HubBooksAsync(DateOnly date, string channel, CancellationToken ct)
    {
        var from = new DateTimeOffset(date.ToDateTime(TimeOnly.MinValue), China).ToUnixTimeMilliseconds();
        var to = new DateTimeOffset(date.AddDays(1).ToDateTime(TimeOnly.MinValue), China).ToUnixTimeMilliseconds();
        // The day's records, the one large read, from a standby if configured: the day is over when it runs, and every
        // record it finds out of step with the bill is read again from the primary before anything is repaired.
        return db.ReadReplicaAsync(async c =>
        {
            var p = (await c.QueryAsync<HubPayment>(
                """
                SELECT a.id AS attempt_id, a.out_trade_no, p.id AS payment_id, p.amount - a.subsidy_amount AS amount, CASE WHEN p.current_attempt_id = a.id THEN 1 ELSE 0 END AS current,
                       COALESCE(p.merchant_discount, 0) AS merchant_discount
                FROM payment_attempts a JOIN payments p ON p.id = a.payment_id
                WHERE COALESCE(a.channel, a.wallet) = @channel AND a.status = 'succeeded'
                  AND ((p.current_attempt_id = a.id AND p.succeeded_at >= @from AND p.succeeded_at < @to)
                    OR (p.current_attempt_id <> a.id AND a.updated_at >= @from AND a.updated_at < @to))
                """, new { channel, from, to })).ToList();
            var r = (await c.QueryAsync<HubRefund>(
                """
                SELECT r.out_refund_no, a.out_trade_no, r.amount - r.subsidy_amount AS amount,
                       COALESCE((SELECT SUM(l.amount) FROM ledger_lines l JOIN ledger_entries e ON e.id = l.entry_id
                                 WHERE e.kind = 'refund' AND e.reference = r.id AND l.account LIKE 'merchant_discount_granted:%'), 0) AS merchant_part,
                       -COALESCE((SELECT SUM(l.amount) FROM ledger_lines l JOIN ledger_entries e ON e.id = l.entry_id
                                  WHERE e.kind = 'refund' AND e.reference = r.id AND l.account LIKE 'wallet_discount_receivable:%'), 0) AS wallet_part
                FROM refunds r JOIN payment_attempts a ON a.id = r.attempt_id
                WHERE COALESCE(a.channel, a.wallet) = @channel AND r.status = 'succeeded' AND r.updated_at >= @from AND r.updated_at < @to
                """, new { channel, from, to })).ToList();
            return (p, r);
        }, ct);
    }

    /// <summary>Bill payments against the hub's by out_trade_no, both ways.</summary>
    private async Task MatchPaymentsAsync(IReadOnlyList<BillLine> lines, List<HubPayment> hubPayments, IWalletConnector connector, Findings found, CancellationToken ct)
    {
        var hubByTrade = hubPayments.ToDictionary(h => h.OutTradeNo, StringComparer.Ordinal);
        var seenTrades = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in lines.Where(l => l.Kind == BillLineKind.Payment))
        {
            seenTrades.Add(line.OutTradeNo);
            if (!hubByTrade.TryGetValue(line.OutTradeNo, out var h))
            {
                await ResolveUnbookedPaymentAsync(line, connector, found, ct);
                continue;
            }

            if (h.Amount != line.AmountMinor)
            {
                found.Add("amount_mismatch", line.OutTradeNo, null, h.Amount, line.AmountMinor, "open", $"payment {h.PaymentId}");
                continue;
            }

            // Where the bill has coupon columns: what the wallet settles (the order less merchant-borne coupons) and those coupons.
            if (h.Current == 1 && line.SettlementMinor is { } settlement && settlement != h.Amount - h.MerchantDiscount)
            {
                found.Add("settlement_mismatch", line.OutTradeNo, null, h.Amount - h.MerchantDiscount, settlement, "open", $"payment {h.PaymentId}: settlement amounts differ");
                continue;
            }

            if (h.Current == 1 && line.CouponMinor is { } coupons && coupons != h.MerchantDiscount)
            {
                found.Add("coupon_mismatch", line.OutTradeNo, null, h.MerchantDiscount, coupons, "open", $"payment {h.PaymentId}: merchant-borne coupons differ");
                continue;
            }

            if (h.Current == 1 && await FeeAsync(h.PaymentId, ct) is var fee && fee != line.FeeMinor)
            {
                found.Add("fee_mismatch", line.OutTradeNo, null, fee, line.FeeMinor, "open", $"payment {h.PaymentId}: ledger fee {fee}, billed {line.FeeMinor}");
                continue;
            }

            found.Matched++;
        }

        foreach (var h in hubPayments.Where(h => !seenTrades.Contains(h.OutTradeNo)))
        {
            found.Add("missing_in_wallet", h.OutTradeNo, null, h.Amount, null, "open", $"payment {h.PaymentId} succeeded in the hub but is not in the bill");
        }
    }

    /// <summary>A billed payment the hub did not book as succeeded that day.</summary>
    private async Task ResolveUnbookedPaymentAsync(BillLine line, IWalletConnector connector, Findings found, CancellationToken ct)
    {
        var attempt = await db.ReadAsync(c => store.GetAttemptByOutTradeNoAsync(c, null, line.OutTradeNo), ct);
        if (attempt is null)
        {
            found.Add("missing_in_hub", line.OutTradeNo, null, null, line.AmountMinor, "open", $"the wallet settled {line.TransactionId}; the hub never made this order");
            return;
        }

        if (attempt.State == AttemptStatus.Succeeded)
        {
            found.Matched++; // the hub has it on a neighbouring day (a success around midnight): not a difference
            return;
        }

        // The wallet settled an order the hub does not count as paid: ask the wallet, and believe the answer.
        var query = await connector.QueryAsync(line.OutTradeNo, ct);
        if (query is { Outcome: WalletCallOutcome.Ok, Transaction.Status: WalletStatus.Succeeded })
        {
            await payments.ApplyWalletTransactionAsync(query.Transaction, "reconciliation", ct);
        }

        var after = await db.ReadAsync(c => c.ExecuteScalarAsync<string>("SELECT status FROM payment_attempts WHERE id = @Id", new { attempt.Id }), ct);
        var fixedNow = after is not null && AttemptStatusNames.FromWire(after) == AttemptStatus.Succeeded;
        found.Repaired += fixedNow ? 1 : 0;
        found.Add("status_mismatch", line.OutTradeNo, null, null, line.AmountMinor, fixedNow ? "repaired" : "open",
            $"hub had {attempt.Status}; wallet {(fixedNow ? "confirmed the payment on re-query" : "did not confirm on re-query")}");
    }

    /// <summary>Bill refunds against the hub's by out_refund_no, both ways.</summary>
    private async Task MatchRefundsAsync(IReadOnlyList<BillLine> lines, List<HubRefund> hubRefunds, Findings found, CancellationToken ct)
    {
        var hubByRefund = hubRefunds.ToDictionary(r => r.OutRefundNo, StringComparer.Ordinal);
        var seenRefunds = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in lines.Where(l => l.Kind == BillLineKind.Refund))
        {
            var no = line.OutRefundNo ?? string.Empty;
            seenRefunds.Add(no);
            if (!hubByRefund.TryGetValue(no, out var r))
            {
                await ResolveUnbookedRefundAsync(line, no, found, ct);
            }
            else if (r.Amount != line.AmountMinor)
            {
                found.Add("amount_mismatch", r.OutTradeNo, no, r.Amount, line.AmountMinor, "open", "refund amounts differ");
            }
            else if (line.SettlementMinor is { } settled && settled != r.Amount - r.MerchantPart)
            {
                found.Add("settlement_mismatch", r.OutTradeNo, no, r.Amount - r.MerchantPart, settled, "open", "refund settlement amounts differ");
            }
            else if (line.CouponMinor is { } coupons && coupons != r.WalletPart)
            {
                found.Add("coupon_mismatch", r.OutTradeNo, no, r.WalletPart, coupons, "open", "wallet-settled coupon refunds differ");
            }
            else
            {
                found.Matched++;
            }
        }

        foreach (var r in hubRefunds.Where(r => !seenRefunds.Contains(r.OutRefundNo)))
        {
            found.Add("missing_in_wallet", r.OutTradeNo, r.OutRefundNo, r.Amount, null, "open", "refund succeeded in the hub but is not in the bill");
        }
    }

    /// <summary>A billed refund the hub did not book as succeeded that day.</summary>
    private async Task ResolveUnbookedRefundAsync(BillLine line, string no, Findings found, CancellationToken ct)
    {
        var status = await db.ReadAsync(c => c.QuerySingleOrDefaultAsync<string?>("SELECT status FROM refunds WHERE out_refund_no = @no", new { no }), ct);
        if (status is null)
        {
            found.Add("missing_in_hub", line.OutTradeNo, no, null, line.AmountMinor, "open", "a refund the hub never asked for");
            return;
        }

        if (RefundStates.FromWire(status) == RefundState.Succeeded)
        {
            found.Matched++;
            return;
        }

        await refunds.RecheckAsync(no, ct);
        var after = await db.ReadAsync(c => c.ExecuteScalarAsync<string>("SELECT status FROM refunds WHERE out_refund_no = @no", new { no }), ct);
        var fixedNow = after is not null && RefundStates.FromWire(after) == RefundState.Succeeded;
        found.Repaired += fixedNow ? 1 : 0;
        found.Add("status_mismatch", line.OutTradeNo, no, null, line.AmountMinor, fixedNow ? "repaired" : "open", $"hub had the refund {status}");
    }

    /// <summary>
    /// Rows the hub cannot match are shown to a person rather than refusing the bill or being dropped: the wallet moved
    /// money the hub's books may not reflect.
    /// </summary>
    private static void ReportForAPerson(IReadOnlyList<BillLine> lines, Findings found)
    {
        foreach (var line in lines.Where(l => l.Kind == BillLineKind.Other))
        {
            found.Add("unhandled_transaction_type", line.OutTradeNo, null, null, line.AmountMinor, "open", line.Detail ?? line.Status);
        }

        foreach (var line in lines.Where(l => l.Kind == BillLineKind.Adjustment))
        {
            found.Add("wallet_adjustment", line.OutTradeNo, null, null, line.AmountMinor, "open", line.Detail ?? line.Status);
        }
    }

    private Task<long> FeeAsync(string paymentId, CancellationToken ct) => db.ReadAsync(c => ledger.FeeOfAsync(c, null, paymentId), ct);

    private async Task<ChannelReconciliation> SaveAsync(
        DateOnly date, string channel, string wallet, DateTimeOffset started, int? lines, int matched, int repaired, IReadOnlyList<Discrepancy> found, string? error)
    {
        var id = Ids.New("rec", started);
        var result = new ChannelReconciliation(id, channel, wallet, error is null ? "completed" : "failed", lines ?? 0, matched, repaired, found, error);
        await db.WriteAsync((c, t) => c.ExecuteAsync(
            """
            INSERT INTO reconciliation_runs (id, bill_date, channel, wallet, status, bill_lines, matched, discrepancies, repaired, error, report, started_at, finished_at)
            VALUES (@id, @date, @channel, @wallet, @status, @lines, @matched, @count, @repaired, @error, @report, @started, @finished)
            """,
            new
            {
                id, date = date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), channel, wallet, status = result.Status, lines = lines ?? 0, matched, count = found.Count,
                repaired, error, report = ApiJson.Serialize(found), started = started.ToUnixTimeMilliseconds(), finished = time.GetUtcNow().ToUnixTimeMilliseconds(),
            }, t), CancellationToken.None);
        if (found.Any(d => d.Resolution == "open"))
        {
            LogOpenDiscrepancies(log, channel, date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), found.Count(d => d.Resolution == "open"));
        }

        return result;
    }

    /// <summary>The stored runs of a bill date, latest per channel first.</summary>
    public async Task<ReconciliationReport> StoredAsync(DateOnly date, CancellationToken ct)
    {
        var rows = await db.ReadAsync(c => c.QueryAsync<(string Id, string Channel, string Wallet, string Status, int BillLines, int Matched, int Repaired, string Report, string? Error)>(
            "SELECT id, channel, wallet, status, bill_lines, matched, repaired, report, error FROM reconciliation_runs WHERE bill_date = @d ORDER BY id DESC",
            new { d = date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) }), ct);
        var latest = rows.GroupBy(r => r.Channel).Select(g => g.First()).OrderBy(r => r.Channel, StringComparer.Ordinal)
            .Select(r => new ChannelReconciliation(r.Id, r.Channel, r.Wallet, r.Status, r.BillLines, r.Matched, r.Repaired,
                JsonSerializer.Deserialize<List<Discrepancy>>(r.Report, ApiJson.Options)!, r.Error))
            .ToList();
        return new ReconciliationReport(date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), latest);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reconciliation: {Channel} bill of {Date} not available ({Reason})")]
    private static partial void LogBillFailed(ILogger logger, string channel, string date, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Reconciliation: {Channel} on {Date} has {Count} open discrepancies")]
    private static partial void LogOpenDiscrepancies(ILogger logger, string channel, string date, int count);
}
