using System.Data.Common;
using Dapper;
using Hutong.Domain.Ledger;
using Hutong.Domain.Settlement;
using Hutong.Server.Features.Ledger;
using Hutong.Server.Features.Payouts;
using Hutong.Server.Storage;

namespace Hutong.Server.Features.Hosts;

/// <summary>
/// A host statement follows the payout that pays it, in the transaction that settles the payout: succeeded → paid (the
/// host's payable is cleared against payout_clearing: the pay left through the merchant's payout); failed → payable again
/// (the payout gave its reservation back; the statement may be paid again). Moved only from paying with that payout, so
/// a second settlement of the same payout (another hub, a repeated answer) changes nothing and emits nothing.
/// </summary>
public sealed class HostStatementPayouts(LedgerStore ledger) : IPayoutSettlement
{
    public bool Follows(PayoutRow payout) => payout.HostStatementId is not null;

    public async Task SettledAsync(DbConnection c, DbTransaction t, PayoutRow payout, bool succeeded, DateTimeOffset now)
    {
        var statementId = payout.HostStatementId!;
        var to = succeeded ? HostStatementState.Paid : HostStatementState.Payable;
        if (!await HostService.MoveAsync(c, t, statementId, HostStatementState.Paying, payout.Id, to, succeeded ? payout.Id : null, now))
        {
            return;
        }

        if (succeeded)
        {
            var hostId = await c.QuerySingleAsync<string>(
                "SELECT k.host_id FROM host_statements s JOIN host_contracts k ON k.id = s.contract_id WHERE s.id = @statementId", new { statementId }, t);
            await ledger.AppendAsync(c, t, "host_payout", statementId, payout.MerchantId,
                [new LedgerLine(Accounts.HostPayable(hostId), payout.Currency, payout.Amount), new LedgerLine(Accounts.PayoutClearing, payout.Currency, -payout.Amount)], now);
        }

        var body = await c.QuerySingleAsync<string>("SELECT body FROM host_statements WHERE id = @statementId", new { statementId }, t);
        var dto = HostService.Dto(body, to, succeeded ? payout.Id : null, succeeded ? now : null);
        await Outbox.AddAsync(c, t, payout.MerchantId, succeeded ? "host_statement.paid" : "host_statement.payout_failed", dto, now);
    }
}
