using System.Net;
using System.Text.Json;
using Hutong.Connectors.Abstractions;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Sandbox;
using Hutong.Sandbox.WeChatPay;
using Hutong.Server.Features;

namespace Hutong.Integration.Tests.Contract;

/// <summary>
/// What <see cref="WalletContract"/> needs to know about one wallet: how its sandbox is driven from outside the hub
/// (the buyer, faults, notifications, the bill). Everything else the contract does through the merchant API and the
/// hub's tables, the same for every wallet. A new wallet implements this (usually by deriving from
/// <see cref="WalletDriver"/>) and adds two one-line test classes, one per store; see WeChatPayDriver.cs.
/// </summary>
public interface IWalletDriver
{
    /// <summary>The wallet's name in the API (<c>confirm { wallet }</c>), its default channel and its <c>/notify/{name}</c>.</summary>
    string Wallet { get; }

    /// <summary>
    /// Whether the wallet can close an unpaid order. When it cannot (UnionPay QR codes), the contract asserts the documented
    /// alternative instead: cancel succeeds, the code stays payable, and a late payment is refunded by the hub itself.
    /// </summary>
    bool CanClose { get; }

    /// <summary>The hub's answer to a notification that does not verify, in this wallet's protocol (WeChat 401, form-posting wallets 400).</summary>
    HttpStatusCode RefusedNotificationStatus { get; }

    /// <summary>The <c>wallet_notifications.event_type</c> of the refund result the wallet sends, or null if it sends none (the refund answer is final).</summary>
    string? RefundNotificationEvent { get; }

    /// <summary>The buyer pays at the sandbox using the payment's <c>next_action</c>; the sandbox's answer (2xx = paid).</summary>
    Task<HttpResponseMessage> PayAsync(JsonElement nextAction);

    /// <summary>
    /// Injects <paramref name="count"/> faults into the sandbox for <paramref name="operation"/>, scoped to the hub payment
    /// <paramref name="paymentId"/> (its own calls only). <see cref="WalletOperation.Close"/> need not be supported when
    /// <see cref="CanClose"/> is false.
    /// </summary>
    void InjectFault(WalletOperation operation, SandboxFault fault, string paymentId, int count = 1);

    /// <summary>The sandbox's view of the order the hub made as <paramref name="outTradeNo"/>, or null if the wallet has no such order.</summary>
    WalletOrderView? Order(string outTradeNo);

    /// <summary>The sandbox's log of notification deliveries for the order (logged once it has read the hub's answer).</summary>
    IReadOnlyList<NotificationAttempt> Deliveries(string outTradeNo);

    /// <summary>Sends the paid order's payment notification to the hub by hand, genuine or forged; the hub's answer.</summary>
    Task<HttpResponseMessage> NotifyAsync(string outTradeNo, Forgery forgery);

    /// <summary>The wallet's bill (对账单) of one China day, as the hub's connector reads it.</summary>
    Task<IReadOnlyList<BillLine>> BillAsync(DateOnly day);
}

/// <summary>The wallet calls a fault can be injected into.</summary>
public enum WalletOperation
{
    /// <summary>Creating the order (WeChat native, Alipay precreate, UnionPay 申码).</summary>
    Create,

    Query,

    Close,

    Refund,

    /// <summary>The wallet's payment notification (drop or duplicate it).</summary>
    Notify,
}

/// <summary>How a hand-sent notification is made.</summary>
public enum Forgery
{
    /// <summary>Genuine: built and signed as the wallet would send it now.</summary>
    None,

    /// <summary>Signed with a key (and, where the wallet sends one, a certificate) that is not the wallet's.</summary>
    WrongKey,

    /// <summary>Genuinely signed, then the amount changed.</summary>
    TamperedAmount,
}

public enum WalletOrderState
{
    NotPaid,

    /// <summary>The buyer paid (whether or not it was refunded since).</summary>
    Paid,

    /// <summary>Closed unpaid: it can no longer be paid.</summary>
    Closed,
}

/// <summary>A wallet order as the sandbox holds it. Amounts in fen.</summary>
public sealed record WalletOrderView(WalletOrderState State, long Amount, long Refunded, string? PayerId);

/// <summary>The parts every sandbox driver shares: the hub, the hub's notify URL and the bill read through the hub's connector.</summary>
public abstract class WalletDriver(HubFixture hub) : IWalletDriver
{
    protected HubFixture Hub { get; } = hub;

    public abstract string Wallet { get; }

    public abstract bool CanClose { get; }

    public abstract HttpStatusCode RefusedNotificationStatus { get; }

    public abstract string? RefundNotificationEvent { get; }

    public abstract Task<HttpResponseMessage> PayAsync(JsonElement nextAction);

    public abstract void InjectFault(WalletOperation operation, SandboxFault fault, string paymentId, int count = 1);

    public abstract WalletOrderView? Order(string outTradeNo);

    public abstract IReadOnlyList<NotificationAttempt> Deliveries(string outTradeNo);

    public abstract Task<HttpResponseMessage> NotifyAsync(string outTradeNo, Forgery forgery);

    public virtual async Task<IReadOnlyList<BillLine>> BillAsync(DateOnly day)
    {
        var connector = await Hub.Service<WalletRegistry>().ChannelAsync(Wallet, default) ?? throw new InvalidOperationException($"no channel {Wallet}");
        var bill = await connector.DownloadBillAsync(day, default);
        Assert.True(bill.Outcome == WalletCallOutcome.Ok, $"{Wallet} bill of {day}: {bill.Error}");
        return bill.Lines!;
    }

    protected static string CodeUrl(JsonElement nextAction) => nextAction.GetProperty("code_url").GetString()!;

    /// <summary>Posts a form-encoded notification to the hub's <c>/notify/{wallet}</c>.</summary>
    protected async Task<HttpResponseMessage> PostFormAsync(IEnumerable<KeyValuePair<string, string>> fields)
    {
        using var content = new FormUrlEncodedContent(fields);
        return await Hub.Http.PostAsync($"/notify/{Wallet}", content);
    }
}
