using System.Data.Common;
using Hutong.Domain;
using Hutong.Domain.Ledger;
using Hutong.Domain.Splits;
using Hutong.Domain.Text;
using Hutong.Server.Features.Idempotency;
using Hutong.Server.Features.Ledger;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.ProfitSharing;

/// <summary>POST /v1/split_receivers/{id}/clawbacks/settle and …/write_off: how much of what the receiver owes is closed.</summary>
public sealed record CloseClawbackRequest(long? Amount, string? Currency, string? Note);

/// <summary>The data of the split_receiver.clawback_* events: what moved, why, and what the receiver still owes.</summary>
public sealed record ClawbackEventDto(
    string Object, string Receiver, string Kind, long Amount, string Currency, long ClawbackOutstanding, string? Split, string? Payout, string? Note);

/// <summary>
/// Split clawbacks (a receiver's share of a refunded payment the wallet could not take back; see
/// <see cref="SplitReturnService"/>) recovered: netted against the next amount the merchant owes the receiver — a split share
/// (<see cref="SplitFollowUpService"/>, <see cref="SplitService"/>) or a payout to the same payee at the same wallet (Payouts
/// calls <see cref="NetPayeeAsync"/>) — or closed by the merchant when repaid outside the hub or written off. The decision is
/// <see cref="ClawbackNetting"/>'s; what a receiver owes is taken by a conditional update on the value read, so two hubs never
/// net the same clawback twice, and the ledger closes it (<see cref="Postings.ClawbackClosed"/>) only when the netted split
/// line or payout succeeds (it is owed again when they fail).
/// </summary>
public sealed class ClawbackService(Db db, SplitStore store, LedgerStore ledger, TimeProvider time)
{
    /// <summary>At most this many re-reads when another writer moved the clawback between the read and the update.</summary>
    private const int Attempts = 8;

    /// <summary>How much of <paramref name="owed"/> the receiver's clawback takes (taken now, in the caller's transaction).</summary>
    public async Task<long> TakeAsync(DbConnection c, DbTransaction t, string receiverId, long owed, long minSend)
    {
        for (var i = 0; i < Attempts; i++)
        {
            var read = await store.ClawbackOutstandingAsync(c, t, receiverId);
            var net = ClawbackNetting.Net(owed, read, minSend);
            if (net.Offset == 0 || await store.TakeClawbackAsync(c, t, receiverId, net.Offset, read))
            {
                return net.Offset;
            }
        }

        throw new InvalidOperationException($"The clawback of {receiverId} kept moving; the change is rolled back and tried again later.");
    }

    /// <summary>What netting a payout against its payee's clawback decided: the offset taken (0: none), whose, or the admission's refusal.</summary>
    public sealed record PayeeNet(long Offset, string? ReceiverId, Failure? Refused);

    /// <summary>
    /// A payout of <paramref name="amount"/> to the payee known at <paramref name="wallet"/> as <paramref name="account"/>:
    /// if one of the merchant's split receivers there is that payee and owes a clawback, the payout sends less by what
    /// <see cref="ClawbackNetting.Net"/> decides. <paramref name="admit"/> decides on the amount to be sent before anything is
    /// taken; a refusal takes nothing.
    /// </summary>
    public async Task<PayeeNet> NetPayeeAsync(
        DbConnection c, DbTransaction t, string merchantId, string wallet, string account, long amount, long minSend, Func<long, Failure?> admit)
    {
        for (var i = 0; i < Attempts; i++)
        {
            var owing = (await store.OwingPayeesAsync(c, t, merchantId, wallet, account)).FirstOrDefault();
            var net = ClawbackNetting.Net(amount, owing?.ClawbackOutstanding ?? 0, minSend);
            if (admit(net.Send) is { } refused)
            {
                return new PayeeNet(0, null, refused);
            }

            if (net.Offset == 0)
            {
                return new PayeeNet(0, null, null);
            }

            if (await store.TakeClawbackAsync(c, t, owing!.Id, net.Offset, owing.ClawbackOutstanding))
            {
                return new PayeeNet(net.Offset, owing.Id, null);
            }
        }

        // Never the payee's account (an openid or login: PII) in the message — unhandled exceptions are logged.
        throw new InvalidOperationException($"The clawback owed by a payee of {merchantId} at {wallet} kept moving; the payout is rolled back and may be asked again.");
    }

    /// <summary>
    /// A netted split line or payout ended: on success the offset closes the clawback in the ledger (kind clawback_offset,
    /// one entry per line or payout) with split_receiver.clawback_offset; otherwise it is owed again.
    /// </summary>
    public async Task NettedAsync(DbConnection c, DbTransaction t, string merchantId, string receiverId, long offset, string currency, bool succeeded,
        string reference, string? split, string? payout, DateTimeOffset now)
    {
        if (!succeeded)
        {
            await store.AddClawbackAsync(c, t, receiverId, offset);
            return;
        }

        if (!await ledger.AppendAsync(c, t, "clawback_offset", reference, merchantId, Postings.ClawbackClosed(receiverId, merchantId, new Money(offset, Currency.Parse(currency))), now))
        {
            throw new InvalidOperationException($"The clawback offset of {reference} was already posted; it is not posted twice.");
        }

        await Outbox.AddAsync(c, t, merchantId, "split_receiver.clawback_offset",
            new ClawbackEventDto("split_receiver_clawback", receiverId, "offset", offset, currency, await store.ClawbackOutstandingAsync(c, t, receiverId), split, payout, null), now);
    }

    /// <summary>
    /// The merchant closes <c>amount</c> of what the receiver owes: repaid outside the hub (<paramref name="writeOff"/> false,
    /// split_receiver.clawback_settled) or written off (split_receiver.clawback_written_off). More than is owed is a 422
    /// problem and changes nothing; the same Idempotency-Key answers the same result without closing it twice.
    /// </summary>
    public async Task<Outcome<SplitReceiverDto>> CloseAsync(string merchantId, string receiverId, CloseClawbackRequest? r, bool writeOff, IdempotencyContext? idem, CancellationToken ct)
    {
        var path = writeOff ? "write_off" : "settle";
        if (idem is null)
        {
            return Failure.Invalid("Idempotency-Key", $"POST /v1/split_receivers/{{id}}/clawbacks/{path} needs an Idempotency-Key header.");
        }

        if (r is null)
        {
            return Failure.Invalid("amount", "The body is {\"amount\": minor units}.");
        }

        if (r.Currency is not (null or "CNY"))
        {
            return Failure.Invalid("currency", "Clawbacks are in CNY.");
        }

        if (r.Note is { Length: 0 or > 200 } || (r.Note is not null && !PlainText.IsPrintable(r.Note)))
        {
            return Failure.Invalid("note", "note is 1-200 characters, without control characters, bidirectional overrides or unpaired surrogates.");
        }

        var now = time.GetUtcNow();
        return await db.WriteAsync<Outcome<SplitReceiverDto>>(async (c, t) =>
        {
            for (var i = 0; i < Attempts; i++)
            {
                if (await store.GetReceiverAsync(c, t, merchantId, receiverId) is not { } receiver)
                {
                    return Failure.NotFound("split receiver");
                }

                if (ClawbackNetting.CheckClose(r.Amount, receiver.ClawbackOutstanding) is { } refused)
                {
                    return refused;
                }

                var amount = r.Amount!.Value;
                if (!await store.TakeClawbackAsync(c, t, receiverId, amount, receiver.ClawbackOutstanding))
                {
                    continue; // a netting or another close moved it since it was read: decided again on the new value
                }

                var kind = writeOff ? "written_off" : "settled";
                var reference = SplitStore.NewId("cbc", now);
                if (!await ledger.AppendAsync(c, t, "clawback_" + kind, reference, merchantId, Postings.ClawbackClosed(receiverId, merchantId, new Money(amount, Currency.Cny)), now))
                {
                    throw new InvalidOperationException($"{reference} was already posted.");
                }

                receiver.ClawbackOutstanding -= amount;
                await Outbox.AddAsync(c, t, merchantId, "split_receiver.clawback_" + kind,
                    new ClawbackEventDto("split_receiver_clawback", receiverId, kind, amount, "CNY", receiver.ClawbackOutstanding, null, null, r.Note), now);
                var done = Outcome.Ok(SplitReceiverDto.Of(receiver));
                await idem.CompleteAsync(c, t, done);
                return done;
            }

            throw new InvalidOperationException($"The clawback of {receiverId} kept moving; nothing was closed.");
        }, ct);
    }
}
