using System.Globalization;
using Dapper;
using Hutong.Connectors.Abstractions;

namespace Hutong.Server.Features.Reconciliation;

/// <summary>
/// Profit-sharing bills (分账账单): each row of the wallet's bill — a receiver paid by a split, or a return — against the
/// hub's succeeded split lines (by out_order_no and receiver account) and succeeded return orders (by out_return_no).
/// Differences are reported as split_missing_in_hub, split_missing_in_wallet and split_amount_mismatch; a bill that cannot
/// be had or read is reported as split_bill_unavailable. Nothing is changed: a person (or the split follow-up) acts.
/// </summary>
public sealed partial class ReconciliationService
{
    private const int MaxSplitRows = 100_000;

    private sealed class HubSplitRow
    {
        public string OutOrderNo { get; set; } = string.Empty;

        public string Account { get; set; } = string.Empty;

        public long Amount { get; set; }

        public string SplitId { get; set; } = string.Empty;
    }

    private async Task<int> MatchSplitBillAsync(DateOnly date, string channel, ISplitBillConnector connector, Findings found, CancellationToken ct)
    {
        var (splits, returns) = await HubSplitsAsync(date, channel, ct);
        var bill = await connector.DownloadSplitBillAsync(date, ct);
        if (bill.Outcome != WalletCallOutcome.Ok)
        {
            // No bill where the hub split nothing that day (a merchant without profit sharing) is not a difference.
            if (bill.Outcome == WalletCallOutcome.Rejected && splits.Count == 0 && returns.Count == 0)
            {
                return 0;
            }

            found.Add("split_bill_unavailable", string.Empty, null, null, null, "open",
                $"profit-sharing bill not available: {bill.Error?.Code} {Clip(bill.Error?.Message)}");
            return 0;
        }

        var lines = bill.Lines!;
        var hubSplits = splits.ToDictionary(s => (s.OutOrderNo, s.Account));
        var hubReturns = returns.ToDictionary(r => r.OutOrderNo, StringComparer.Ordinal);
        var seenSplits = new HashSet<(string, string)>();
        var seenReturns = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in lines)
        {
            var isReturn = line.Kind == SplitBillLineKind.Return;
            HubSplitRow? hub;
            if (isReturn)
            {
                seenReturns.Add(line.OutOrderNo);
                hub = hubReturns.GetValueOrDefault(line.OutOrderNo) ?? await HubReturnAnyDayAsync(line.OutOrderNo, ct);
            }
            else
            {
                seenSplits.Add((line.OutOrderNo, line.Receiver));
                hub = hubSplits.GetValueOrDefault((line.OutOrderNo, line.Receiver)) ?? await HubSplitAnyDayAsync(line.OutOrderNo, line.Receiver, ct);
            }

            var what = isReturn ? "return" : "split";
            if (hub is null)
            {
                found.Add("split_missing_in_hub", line.OutOrderNo, null, null, line.AmountMinor, "open",
                    $"the wallet billed a {what} to {Mask(line.Receiver)} (transaction {line.TransactionId}) that the hub has not as succeeded");
            }
            else if (hub.Amount != line.AmountMinor)
            {
                found.Add("split_amount_mismatch", line.OutOrderNo, null, hub.Amount, line.AmountMinor, "open", $"{what} {hub.SplitId} to {Mask(line.Receiver)}: amounts differ");
            }
            else
            {
                found.Matched++;
            }
        }

        foreach (var s in splits.Where(s => !seenSplits.Contains((s.OutOrderNo, s.Account))))
        {
            found.Add("split_missing_in_wallet", s.OutOrderNo, null, s.Amount, null, "open", $"split {s.SplitId} to {Mask(s.Account)} succeeded in the hub but is not in the bill");
        }

        foreach (var r in returns.Where(r => !seenReturns.Contains(r.OutOrderNo)))
        {
            found.Add("split_missing_in_wallet", r.OutOrderNo, null, r.Amount, null, "open", $"return {r.SplitId} from {Mask(r.Account)} succeeded in the hub but is not in the bill");
        }

        return lines.Count;
    }

    /// <summary>The hub's succeeded split lines and return orders on <paramref name="channel"/> that finished during the China day.</summary>
    private Task<(List<HubSplitRow> Splits, List<HubSplitRow> Returns)> HubSplitsAsync(DateOnly date, string channel, CancellationToken ct)
    {
        var from = new DateTimeOffset(date.ToDateTime(TimeOnly.MinValue), China).ToUnixTimeMilliseconds();
        var to = new DateTimeOffset(date.AddDays(1).ToDateTime(TimeOnly.MinValue), China).ToUnixTimeMilliseconds();
        return db.ReadReplicaAsync(async c =>
        {
            // A line's amount is its share; the wallet paid the receiver the share less what netted its clawback
            // (clawback_offset, sent as amount − clawback_offset), and that is what the bill lists.
            var s = (await c.QueryAsync<HubSplitRow>(
                $"""
                SELECT s.out_order_no, r.account, l.amount - l.clawback_offset AS amount, s.id AS split_id
                FROM splits s JOIN split_lines l ON l.split_id = s.id JOIN split_receivers r ON r.id = l.receiver_id JOIN payment_attempts a ON a.id = s.attempt_id
                WHERE COALESCE(a.channel, a.wallet) = @channel AND s.status = 'succeeded' AND l.result = 'succeeded' AND s.updated_at >= @from AND s.updated_at < @to
                ORDER BY s.id LIMIT {MaxSplitRows}
                """, new { channel, from, to })).ToList();
            var r = (await c.QueryAsync<HubSplitRow>(
                $"""
                SELECT x.out_return_no AS out_order_no, r.account, x.amount, x.id AS split_id
                FROM split_returns x JOIN splits s ON s.id = x.split_id JOIN split_receivers r ON r.id = x.receiver_id JOIN payment_attempts a ON a.id = s.attempt_id
                WHERE COALESCE(a.channel, a.wallet) = @channel AND x.mode = 'return_order' AND x.status = 'succeeded' AND x.updated_at >= @from AND x.updated_at < @to
                ORDER BY x.id LIMIT {MaxSplitRows}
                """, new { channel, from, to })).ToList();
            return (s, r);
        }, ct);
    }

    /// <summary>A billed split the hub has as succeeded on a neighbouring day (a split finished around midnight).</summary>
    private Task<HubSplitRow?> HubSplitAnyDayAsync(string outOrderNo, string account, CancellationToken ct) =>
        db.ReadAsync(c => c.QuerySingleOrDefaultAsync<HubSplitRow?>(
            """
            SELECT s.out_order_no, r.account, l.amount - l.clawback_offset AS amount, s.id AS split_id
            FROM splits s JOIN split_lines l ON l.split_id = s.id JOIN split_receivers r ON r.id = l.receiver_id
            WHERE s.out_order_no = @outOrderNo AND r.account = @account AND s.status = 'succeeded' AND l.result = 'succeeded'
            """, new { outOrderNo, account }), ct);

    private Task<HubSplitRow?> HubReturnAnyDayAsync(string outReturnNo, CancellationToken ct) =>
        db.ReadAsync(c => c.QuerySingleOrDefaultAsync<HubSplitRow?>(
            """
            SELECT x.out_return_no AS out_order_no, r.account, x.amount, x.id AS split_id
            FROM split_returns x JOIN split_receivers r ON r.id = x.receiver_id
            WHERE x.out_return_no = @outReturnNo AND x.status = 'succeeded'
            """, new { outReturnNo }), ct);

    /// <summary>A receiver's account in a report: a merchant id as is, a person's openid shortened.</summary>
    private static string Mask(string account) =>
        account.Length <= 12 ? account : string.Create(CultureInfo.InvariantCulture, $"{account[..4]}…{account[^4..]}");

    private static string Clip(string? text) => text is null ? "-" : text.Length <= 200 ? text : text[..200];
}
