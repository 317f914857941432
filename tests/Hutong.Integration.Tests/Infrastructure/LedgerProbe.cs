using Dapper;
using Hutong.Server.Features.Ledger;

namespace Hutong.Integration.Tests.Infrastructure;

/// <summary>What money tests read back from the hub's ledger: an account's balance, what one reference posted, and the chain verified.</summary>
public static class LedgerProbe
{
    /// <summary>The sum of every line on <paramref name="account"/>.</summary>
    public static Task<long> BalanceAsync(this HubFixture hub, string account) =>
        hub.Db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT COALESCE(SUM(amount), 0) FROM ledger_lines WHERE account = @account", new { account }), default);

    /// <summary>What the entries posted for one reference (payment or refund id) put on accounts starting with <paramref name="prefix"/>.</summary>
    public static Task<long> PostedAsync(this HubFixture hub, string reference, string prefix) =>
        hub.Db.ReadAsync(c => c.ExecuteScalarAsync<long>(
            "SELECT COALESCE(SUM(l.amount), 0) FROM ledger_lines l JOIN ledger_entries e ON e.id = l.entry_id WHERE e.reference = @reference AND l.account LIKE @prefix",
            new { reference, prefix = prefix + "%" }), default);

    /// <summary>The ledger's checks (balanced entries, the hash chain, balances equal to their lines) all pass.</summary>
    public static async Task LedgerVerifiesAsync(this HubFixture hub)
    {
        var verified = await hub.Service<LedgerStore>().VerifyAsync(null, default);
        Assert.True(verified.Ok, string.Join('\n', verified.Problems));
    }
}
