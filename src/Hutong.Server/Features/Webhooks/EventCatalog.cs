using System.Collections.Frozen;
using Hutong.Domain;
using Hutong.Domain.Payments;
using Hutong.Domain.Payouts;
using Hutong.Domain.Refunds;
using Hutong.Domain.Splits;

namespace Hutong.Server.Features.Webhooks;

/// <summary>
/// Every event type the hub puts in the outbox (Outbox.AddAsync / Outbox.Prepare): what a webhook endpoint's
/// enabled_events may name, besides <see cref="Wildcard"/>. Events named after a state ("payment." + the new status)
/// take the states it is emitted in, read from its state machine, so a new state is covered by itself; a new literal type
/// is added here, or EventCatalogTests (architecture) and InputShapeTests' catalogue test (a real payment and refund) fail.
/// </summary>
public static class EventCatalog
{
    /// <summary>enabled_events ["*"] (or none given): every event, including types added later.</summary>
    public const string Wildcard = "*";

    public static readonly FrozenSet<string> Types = FrozenSet.Create(StringComparer.Ordinal,
    [
        "payment.created",
        .. Enum.GetValues<PaymentStatus>().Select(s => "payment." + WireName<PaymentStatus>.Of(s)), // PaymentOutcomes
        "refund.created",
        // Refunds, payouts and splits are announced when they settle (RefundService, PayoutService, SplitFollowUpService),
        // a payout also when it waits for the payee: "refund.pending" would be a subscription that never fires.
        .. Enum.GetValues<RefundState>().Where(RefundStates.Machine.IsFinal).Select(s => "refund." + WireName<RefundState>.Of(s)),
        "payout.created",
        "payout.awaiting_confirmation",
        .. Enum.GetValues<PayoutState>().Where(PayoutStates.Machine.IsFinal).Select(s => "payout." + WireName<PayoutState>.Of(s)),
        .. Enum.GetValues<SplitOrderState>().Where(SplitStates.Order.IsFinal).Select(s => "split." + WireName<SplitOrderState>.Of(s)),
        "split_return.failed",
        "split_receiver.clawback_due",
        "split_receiver.clawback_offset",
        "split_receiver.clawback_settled",      // ClawbackService: "split_receiver.clawback_" + kind
        "split_receiver.clawback_written_off",
        "dispute.created",
        "dispute.updated",
        "dispute.closed",
        "dispute.deadline_approaching",
        "friend_pay_link.created",
        "friend_pay_link.revoked",
        "host.payout_account_updated",
        "host_statement.paying",
        "host_statement.paid",
        "host_statement.payout_failed",
        "subsidy_campaign.created",
        "subsidy_campaign.ended",
    ]);
}
