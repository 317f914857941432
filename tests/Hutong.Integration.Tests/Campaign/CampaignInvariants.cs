using System.Text.Json;
using Dapper;
using Hutong.Integration.Tests.Contract;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server.Features.Ledger;

namespace Hutong.Integration.Tests.Campaign;

/// <summary>
/// The money invariants of issue 21, checked for one merchant's payments after a fault run has quiesced, against the
/// hub's tables and each wallet's own books (the sandbox): one capture per payment or an automatic refund of every extra
/// one; nothing left unknown; refunds never above the capture; amount_refunded = the succeeded merchant refunds; the
/// wallet refunded exactly what the hub says succeeded; every succeeded refund posted once; the ledger verifies; one
/// event per real change; and each payment ends in a state its plan allows — so a payment failed (or left pending) by the
/// hubs rather than by anything the plan injected is a violation, and one hub and three hubs must agree on the outcomes.
/// Shared by every campaign (one hub, three hubs) so they check the same things.
/// </summary>
public sealed class CampaignInvariants(HubFixture hub, IReadOnlyDictionary<string, IWalletDriver> wallets)
{
    private sealed record Payment(string Id, string Status, long Amount, long AmountRefunded, string? CurrentAttemptId);

    private sealed record Attempt(string Id, string PaymentId, string Wallet, string OutTradeNo, string Status, string? ErrorCode, string? ErrorMessage);

    private sealed record Refund(string Id, string PaymentId, string AttemptId, long Amount, string Status, string InitiatedBy);

    private static readonly string[] TerminalPaymentEvents = ["succeeded", "canceled", "failed", "expired"];

    /// <summary>Work the hubs still have for the merchant: unknown or in-flight rows, or a paid wallet order the hub has not applied.</summary>
    public async Task<long> OutstandingAsync(string merchantId)
    {
        var open = await hub.CountAsync(
            """
            SELECT (SELECT COUNT(*) FROM payment_attempts a JOIN payments p ON p.id = a.payment_id WHERE p.merchant_id = @merchantId AND a.status IN ('unknown', 'requested'))
                 + (SELECT COUNT(*) FROM payments WHERE merchant_id = @merchantId AND status = 'unknown')
                 + (SELECT COUNT(*) FROM refunds WHERE merchant_id = @merchantId AND status IN ('pending', 'processing', 'unknown'))
            """, new { merchantId });
        var attempts = await AttemptsAsync(merchantId);
        return open + attempts.Count(a => a.Status != "succeeded" && wallets[a.Wallet].Order(a.OutTradeNo)?.State == WalletOrderState.Paid);
    }

    /// <summary>Every violation found (empty: the invariants hold), and a one-line summary of what was checked.</summary>
    /// <param name="merchantId">The campaign's merchant.</param>
    /// <param name="allowed">
    /// The final statuses the plan allows each payment (by id), whatever the timing: e.g. only "succeeded" for a buyer who
    /// pays. "failed" only where the plan made the wallet refuse or fail it. Null: a payment the campaign did not plan.
    /// </param>
    public async Task<(List<string> Problems, string Summary)> CheckAsync(string merchantId, Func<string, IReadOnlyCollection<string>?> allowed)
    {
        var problems = new List<string>();
        var payments = (await hub.Db.ReadAsync(c => c.QueryAsync<Payment>(
            "SELECT id, status, amount, amount_refunded AS AmountRefunded, current_attempt_id AS CurrentAttemptId FROM payments WHERE merchant_id = @merchantId",
            new { merchantId }), default)).ToDictionary(p => p.Id);
        var attempts = await AttemptsAsync(merchantId);
        var refunds = (await hub.Db.ReadAsync(c => c.QueryAsync<Refund>(
            "SELECT id, payment_id AS PaymentId, attempt_id AS AttemptId, amount, status, initiated_by AS InitiatedBy FROM refunds WHERE merchant_id = @merchantId",
            new { merchantId }), default)).ToList();
        var entries = (await hub.Db.ReadAsync(c => c.QueryAsync<(string Kind, string Reference)>(
            "SELECT kind, reference FROM ledger_entries WHERE merchant_id = @merchantId", new { merchantId }), default)).ToList();
        var events = (await hub.Db.ReadAsync(c => c.QueryAsync<(string Type, string Payload)>(
            "SELECT type, payload FROM outbox WHERE merchant_id = @merchantId", new { merchantId }), default))
            .Select(e => (e.Type, Id: JsonDocument.Parse(e.Payload).RootElement.GetProperty("data").GetProperty("object").GetProperty("id").GetString()!))
            .ToList();
        int Entries(string kind, string reference) => entries.Count(e => e.Kind == kind && e.Reference == reference);
        int Events(string type, string id) => events.Count(e => e.Type == type && e.Id == id);

        // Each payment ends as its plan allows; one that does not is shown with its attempts' errors, so it explains itself.
        foreach (var p in payments.Values)
        {
            if (allowed(p.Id) is not { } statuses)
            {
                problems.Add($"payment {p.Id} ({p.Status}): not in the plan");
            }
            else if (!statuses.Contains(p.Status))
            {
                var tried = attempts.Where(a => a.PaymentId == p.Id).Select(a => $"{a.Id} {a.Wallet} {a.Status}{(a.ErrorCode is null ? "" : $" {a.ErrorCode}: {a.ErrorMessage}")}");
                problems.Add($"payment {p.Id}: {p.Status}, but its plan allows only {string.Join(" or ", statuses)} (attempts: {string.Join("; ", tried)})");
            }
        }

        // Nothing left unknown.
        foreach (var p in payments.Values.Where(p => p.Status == "unknown"))
        {
            problems.Add($"payment {p.Id}: left unknown");
        }

        foreach (var a in attempts.Where(a => a.Status is "unknown" or "requested"))
        {
            problems.Add($"attempt {a.Id} of payment {a.PaymentId} ({a.Wallet}): left {a.Status}");
        }

        foreach (var r in refunds.Where(r => r.Status is "pending" or "processing" or "unknown"))
        {
            problems.Add($"refund {r.Id} of payment {r.PaymentId}: left {r.Status}");
        }

        // One capture per payment, and every wallet order the buyer paid is either that capture or refunded in full by the hub.
        foreach (var p in payments.Values)
        {
            var captures = Entries("payment_captured", p.Id);
            if (captures != (p.Status == "succeeded" ? 1 : 0))
            {
                problems.Add($"payment {p.Id} ({p.Status}): {captures} capture entries");
            }
        }

        foreach (var a in attempts)
        {
            var p = payments[a.PaymentId];
            var order = wallets[a.Wallet].Order(a.OutTradeNo);
            var paid = order?.State == WalletOrderState.Paid;
            var theCapture = p.Status == "succeeded" && p.CurrentAttemptId == a.Id;
            var walletRefunded = order?.Refunded ?? 0;
            var hubRefunded = refunds.Where(r => r.AttemptId == a.Id && r.Status == "succeeded").Sum(r => r.Amount);
            if (paid != (a.Status == "succeeded"))
            {
                problems.Add($"attempt {a.Id} of payment {a.PaymentId} ({a.Wallet}): hub says {a.Status}, wallet says {order?.State.ToString() ?? "no order"}");
            }

            if (walletRefunded != hubRefunded)
            {
                problems.Add($"attempt {a.Id} of payment {a.PaymentId} ({a.Wallet}): wallet refunded {walletRefunded}, hub's succeeded refunds {hubRefunded}");
            }

            if (paid && !theCapture)
            {
                var auto = refunds.Where(r => r.AttemptId == a.Id && r.InitiatedBy == "system").ToList();
                if (Entries("capture_to_suspense", a.Id) != 1 || auto.Count != 1 || auto[0].Status != "succeeded" || auto[0].Amount != order!.Amount || walletRefunded != order.Amount)
                {
                    problems.Add($"attempt {a.Id} of payment {a.PaymentId} ({a.Wallet}, payment {p.Status}): an extra capture not refunded in full by the hub " +
                        $"(suspense entries {Entries("capture_to_suspense", a.Id)}, automatic refunds [{string.Join(", ", auto.Select(r => $"{r.Amount} {r.Status}"))}], wallet refunded {walletRefunded} of {order!.Amount})");
                }
            }
        }

        // Refunds never above the capture; amount_refunded = the succeeded merchant refunds.
        foreach (var p in payments.Values)
        {
            var merchant = refunds.Where(r => r.PaymentId == p.Id && r.InitiatedBy == "merchant").ToList();
            var committed = merchant.Where(r => r.Status != "failed").Sum(r => r.Amount);
            var succeeded = merchant.Where(r => r.Status == "succeeded").Sum(r => r.Amount);
            if (committed > p.Amount || p.AmountRefunded > p.Amount)
            {
                problems.Add($"payment {p.Id}: refunds {committed} (amount_refunded {p.AmountRefunded}) above the amount {p.Amount}");
            }

            if (p.AmountRefunded != succeeded)
            {
                problems.Add($"payment {p.Id}: amount_refunded {p.AmountRefunded}, succeeded merchant refunds {succeeded}");
            }

            if (merchant.Count > 0 && p.Status != "succeeded")
            {
                problems.Add($"payment {p.Id} ({p.Status}): has merchant refunds");
            }
        }

        // Each settled refund posted once (a failed one never) and announced once.
        foreach (var r in refunds)
        {
            var kind = r.InitiatedBy == "system" ? "suspense_refunded" : "refund";
            var posted = Entries(kind, r.Id);
            if (posted != (r.Status == "succeeded" ? 1 : 0))
            {
                problems.Add($"refund {r.Id} ({r.InitiatedBy}, {r.Status}): {posted} '{kind}' ledger entries");
            }

            foreach (var state in new[] { "succeeded", "failed" })
            {
                var n = Events("refund." + state, r.Id);
                if (n != (r.Status == state ? 1 : 0))
                {
                    problems.Add($"refund {r.Id} ({r.Status}): {n} refund.{state} events");
                }
            }
        }

        // One event per real change: a payment reaches a final state once.
        foreach (var p in payments.Values)
        {
            foreach (var state in TerminalPaymentEvents)
            {
                var n = Events("payment." + state, p.Id);
                if (n != (p.Status == state ? 1 : 0))
                {
                    problems.Add($"payment {p.Id} ({p.Status}): {n} payment.{state} events");
                }
            }
        }

        var verified = await hub.Service<LedgerStore>().VerifyAsync(null, default);
        problems.AddRange(verified.Problems.Select(x => "ledger: " + x));

        var summary = $"payments {payments.Count} ({Counts(payments.Values.Select(p => p.Status))}); attempts {attempts.Count} ({Counts(attempts.Select(a => a.Status))}); " +
            $"refunds {refunds.Count} ({Counts(refunds.Select(r => $"{r.InitiatedBy} {r.Status}"))}); refunded {refunds.Where(r => r.Status == "succeeded").Sum(r => r.Amount)} fen; " +
            $"events {events.Count}; ledger entries {entries.Count}";
        return (problems, summary);
    }

    private async Task<List<Attempt>> AttemptsAsync(string merchantId) =>
        [.. await hub.Db.ReadAsync(c => c.QueryAsync<Attempt>(
            "SELECT a.id, a.payment_id AS PaymentId, a.wallet, a.out_trade_no AS OutTradeNo, a.status, a.error_code AS ErrorCode, a.error_message AS ErrorMessage FROM payment_attempts a JOIN payments p ON p.id = a.payment_id WHERE p.merchant_id = @merchantId",
            new { merchantId }), default)];

    private static string Counts(IEnumerable<string> values) =>
        string.Join(", ", values.GroupBy(v => v).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} {g.Count()}"));
}
