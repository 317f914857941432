using Hutong.Server.Features.Payments;

namespace Hutong.Server.Features.ProfitSharing;

/// <summary>POST /v1/split_receivers.</summary>
public sealed record CreateReceiverRequest(string? Wallet, string? Role, string? Type, string? Account, string? Name, string? HostId);

/// <summary>POST /v1/payments/{id}/splits: one split order; final releases whatever is left to the merchant.</summary>
public sealed record CreateSplitRequest(IReadOnlyList<SplitRuleRequest>? Splits, bool? Final);

/// <param name="ClawbackOutstanding">
/// What the receiver owes the merchant back (shares of refunded payments the wallet could not take back) that no split or
/// payout in flight is netting yet; the next split share or payout to it is sent less by it (docs/settlement-payouts.md).
/// </param>
public sealed record SplitReceiverDto(string Id, string Object, string Wallet, string Role, string Type, string Account, string? HostId, DateTimeOffset CreatedAt, long ClawbackOutstanding)
{
    public static SplitReceiverDto Of(SplitReceiverRow r) =>
        new(r.Id, "split_receiver", r.Wallet, r.Role, r.Type, r.Account, r.HostId, DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt), r.ClawbackOutstanding);
}

/// <param name="Amount">The receiver's share.</param>
/// <param name="ClawbackOffset">The part of the share kept to settle the receiver's clawback: the wallet was sent amount − clawback_offset.</param>
public sealed record SplitLineDto(string Receiver, string Role, long Amount, string Result, long Returned, string? FailReason, long ClawbackOffset);

public sealed record SplitDto(
    string Id, string Object, string Payment, string Status, long Amount, string Currency, bool Final, string InitiatedBy,
    IReadOnlyList<SplitLineDto> Receivers, PaymentFailure? Failure, DateTimeOffset CreatedAt)
{
    public static SplitDto Of(SplitRow s, IEnumerable<SplitLineRow> lines) => new(
        s.Id, "split", s.PaymentId, s.Status, s.Amount, s.Currency, s.Final == 1, s.InitiatedBy,
        lines.Select(l => new SplitLineDto(l.ReceiverId, l.Role, l.Amount, l.Result, l.Returned, l.FailReason, l.ClawbackOffset)).ToList(),
        s.ErrorCode is null ? null : new PaymentFailure(s.ErrorCode, s.ErrorMessage ?? string.Empty),
        DateTimeOffset.FromUnixTimeMilliseconds(s.CreatedAt));
}

public sealed record SplitReturnDto(string Id, string Object, string Payment, string Refund, string Split, string Receiver, long Amount, string Mode, string Status)
{
    public static SplitReturnDto Of(SplitReturnRow r) => new(r.Id, "split_return", r.PaymentId, r.RefundId, r.SplitId, r.ReceiverId, r.Amount, r.Mode, r.Status);
}

/// <summary>A page of split receivers (GET /v1/split_receivers): next_cursor is the starting_after of the next page.</summary>
public sealed record SplitReceiverList(string Object, IReadOnlyList<SplitReceiverDto> Data, bool HasMore, string? NextCursor);
