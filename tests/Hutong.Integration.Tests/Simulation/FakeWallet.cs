using Hutong.Connectors.Abstractions;

namespace Hutong.Integration.Tests.Simulation;

/// <summary>A clock the simulation moves by hand.</summary>
public sealed class SimClock(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; private set; } = start;

    public override DateTimeOffset GetUtcNow() => Now;

    public void Advance(TimeSpan by) => Now += by;
}

/// <summary>
/// A wallet whose every answer is drawn from one seeded <see cref="Random"/>: it takes or rejects orders, loses answers
/// (before or after acting), answers queries truthfully or not at all, refuses to close paid orders, and records refunds.
/// What it holds (<see cref="Orders"/>) is the truth the hub's books are checked against.
/// </summary>
public sealed class FakeWallet(Random rng, SimClock clock, bool canClose = true) : IWalletConnector
{
    public sealed class Order
    {
        public required long Amount { get; init; }

        public required DateTimeOffset ExpiresAt { get; init; }

        public string State { get; set; } = "NOTPAY"; // NOTPAY, PAID, CLOSED

        public string? TransactionId { get; set; }

        public DateTimeOffset? PaidAt { get; set; }

        public Dictionary<string, long> Refunds { get; } = new(StringComparer.Ordinal);
    }

    public Dictionary<string, Order> Orders { get; } = new(StringComparer.Ordinal);

    /// <summary>Orders in creation order, so the simulation picks among them deterministically.</summary>
    public List<string> OrderNumbers { get; } = [];

    public string Wallet => "wechatpay";

    public WalletCapabilities Capabilities { get; } = new(true, true, canClose, true, true, true, false, ["CNY"]);

    private bool Roll(int percent) => rng.Next(100) < percent;

    public Task<CreateOrderResult> CreateQrOrderAsync(CreateOrderRequest request, CancellationToken cancellationToken)
    {
        if (Orders.ContainsKey(request.OutTradeNo))
        {
            return Task.FromResult(Roll(80) ? CreateOrderResult.Ok("sim://" + request.OutTradeNo) : CreateOrderResult.Unknown("lost"));
        }

        var r = rng.Next(100);
        if (r < 10)
        {
            return Task.FromResult(CreateOrderResult.Rejected(new WalletError("SYSTEM_ERROR", "rejected")));
        }

        if (r < 20)
        {
            return Task.FromResult(CreateOrderResult.Unknown("no answer, nothing made"));
        }

        Orders[request.OutTradeNo] = new Order { Amount = request.Amount.Minor, ExpiresAt = request.ExpiresAt };
        OrderNumbers.Add(request.OutTradeNo);
        return Task.FromResult(r < 30 ? CreateOrderResult.Unknown("made, answer lost") : CreateOrderResult.Ok("sim://" + request.OutTradeNo));
    }

    public WalletTransaction Truth(string outTradeNo) => Orders.TryGetValue(outTradeNo, out var o)
        ? new WalletTransaction(outTradeNo, o.State switch { "PAID" => WalletStatus.Succeeded, "CLOSED" => WalletStatus.Closed, _ => WalletStatus.NotPaid },
            o.State, o.TransactionId, o.Amount, "CNY", "oSim", o.PaidAt, null)
        : new WalletTransaction(outTradeNo, WalletStatus.NotFound, "NOT_FOUND", null, null, null, null, null, null);

    public Task<QueryResult> QueryAsync(string outTradeNo, CancellationToken cancellationToken) =>
        Task.FromResult(Roll(80) ? QueryResult.Ok(Truth(outTradeNo)) : QueryResult.Unknown("no answer"));

    public Task<CloseResult> CloseAsync(string outTradeNo, CancellationToken cancellationToken)
    {
        if (!canClose)
        {
            // Like UnionPay's merchant-presented QR codes: an order lapses at its expiry, it cannot be closed before.
            return Task.FromResult(CloseResult.Rejected(new WalletError("NOT_SUPPORTED", "orders cannot be closed")));
        }

        if (Roll(15))
        {
            if (Roll(50) && Orders.TryGetValue(outTradeNo, out var lost) && lost.State == "NOTPAY")
            {
                lost.State = "CLOSED"; // closed, answer lost
            }

            return Task.FromResult(CloseResult.Unknown("no answer"));
        }

        if (!Orders.TryGetValue(outTradeNo, out var o))
        {
            return Task.FromResult(CloseResult.Rejected(new WalletError("ORDER_NOT_EXIST", "no such order")));
        }

        if (o.State == "PAID")
        {
            return Task.FromResult(CloseResult.Rejected(new WalletError("ORDERPAID", "paid")));
        }

        o.State = "CLOSED";
        return Task.FromResult(CloseResult.Ok);
    }

    /// <summary>The buyer scans and pays, if the wallet would let them.</summary>
    public bool Pay(string outTradeNo)
    {
        if (!Orders.TryGetValue(outTradeNo, out var o) || o.State != "NOTPAY" || o.ExpiresAt <= clock.GetUtcNow())
        {
            return false;
        }

        o.State = "PAID";
        o.TransactionId = "4200" + outTradeNo[..12];
        o.PaidAt = clock.GetUtcNow();
        return true;
    }

    public Task<RefundResult> RefundAsync(RefundRequest request, CancellationToken cancellationToken)
    {
        if (!Orders.TryGetValue(request.OutTradeNo, out var o) || o.State != "PAID")
        {
            return Task.FromResult(RefundResult.Rejected(new WalletError("INVALID_REQUEST", "not paid")));
        }

        if (Roll(5))
        {
            return Task.FromResult(RefundResult.Unknown("no answer, nothing done"));
        }

        if (!o.Refunds.ContainsKey(request.OutRefundNo))
        {
            if (o.Refunds.Values.Sum() + request.Refund.Minor > o.Amount)
            {
                return Task.FromResult(RefundResult.Rejected(new WalletError("NOT_ENOUGH", "over-refund")));
            }

            o.Refunds[request.OutRefundNo] = request.Refund.Minor;
        }

        return Task.FromResult(Roll(12)
            ? RefundResult.Unknown("done, answer lost")
            : new RefundResult(WalletCallOutcome.Ok, RefundStatus.Succeeded, "50" + request.OutRefundNo[..10], request.Refund.Minor, null));
    }

    public Task<RefundResult> QueryRefundAsync(string outTradeNo, string outRefundNo, CancellationToken cancellationToken)
    {
        if (Roll(15))
        {
            return Task.FromResult(RefundResult.Unknown("no answer"));
        }

        return Task.FromResult(Orders.TryGetValue(outTradeNo, out var o) && o.Refunds.TryGetValue(outRefundNo, out var amount)
            ? new RefundResult(WalletCallOutcome.Ok, RefundStatus.Succeeded, "50" + outRefundNo[..10], amount, null)
            : new RefundResult(WalletCallOutcome.Ok, RefundStatus.NotFound, null, null, null));
    }

    public Task<BillResult> DownloadBillAsync(DateOnly billDate, CancellationToken cancellationToken) => Task.FromResult(BillResult.Unknown("not simulated"));

    public Task<NotificationResult> VerifyNotificationAsync(IReadOnlyDictionary<string, string> headers, string rawBody, CancellationToken cancellationToken) =>
        Task.FromResult(NotificationResult.Reject("not simulated"));

    public NotificationAck Acknowledge(bool accepted) => new(accepted ? 204 : 400, null, null);
}
