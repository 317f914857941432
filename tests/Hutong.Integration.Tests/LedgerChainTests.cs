using Dapper;
using Hutong.Domain;
using Hutong.Domain.Ledger;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server.Features.Ledger;
using Hutong.Server.Storage;

namespace Hutong.Integration.Tests;

/// <summary>
/// The ledger's appends under concurrency, on the store itself. On PostgreSQL an entry is decided when it is appended and
/// written to the hash chain just before its transaction commits (so the chain's lock is held for the commit only): these
/// pin that an event still posts once however many transactions race for it, that what one transaction posts lands with
/// it or not at all, and that nothing of a rolled-back transaction is carried into the next one on the same connection.
/// </summary>
public abstract class LedgerChainTests(HubFixture hub)
{
    private static IReadOnlyList<LedgerLine> Lines(string merchantId, long fen) =>
        Postings.Captured("wechatpay", merchantId, new Money(fen, Currency.Parse("CNY")));

    private Task<long> CountAsync(Db db, string reference) =>
        db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM ledger_entries WHERE reference = @reference", new { reference }), default);

    private Task<long> BalanceAsync(Db db, string account) =>
        db.ReadAsync(c => c.ExecuteScalarAsync<long>("SELECT COALESCE(SUM(balance), 0) FROM ledger_balances_current WHERE account = @account", new { account }), default);

    [Fact]
    public async Task Twenty_transactions_posting_one_event_post_it_once_and_the_others_learn_it_was_posted()
    {
        var ledger = hub.Service<LedgerStore>();
        var merchant = "mch_" + Guid.NewGuid().ToString("N")[..8];
        var reference = Ids.New("pay");
        var posted = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(() =>
            hub.Db.WriteAsync((c, t) => ledger.AppendAsync(c, t, "payment_captured", reference, merchant, Lines(merchant, 1234), DateTimeOffset.UtcNow), default))));

        Assert.Equal(1, posted.Count(p => p));
        Assert.Equal(1, await CountAsync(hub.Db, reference));
        Assert.Equal(-1234, await BalanceAsync(hub.Db, Accounts.MerchantPayable(merchant)));
        Assert.True((await ledger.VerifyAsync(null, default)).Ok);
    }

    [Fact]
    public async Task Concurrent_transactions_of_two_entries_each_keep_one_unbroken_chain_and_exact_balances()
    {
        var ledger = hub.Service<LedgerStore>();
        var merchant = "mch_" + Guid.NewGuid().ToString("N")[..8];
        await Task.WhenAll(Enumerable.Range(1, 60).Select(i => Task.Run(() => hub.Db.WriteAsync(async (c, t) =>
        {
            Assert.True(await ledger.AppendAsync(c, t, "payment_captured", $"pay_{merchant}_{i}", merchant, Lines(merchant, i), DateTimeOffset.UtcNow));
            Assert.True(await ledger.AppendAsync(c, t, "test_adjust", $"adj_{merchant}_{i}", merchant,
                [new LedgerLine(Accounts.MerchantPayable(merchant), "CNY", 1), new LedgerLine($"test_offset:{merchant}", "CNY", -1)], DateTimeOffset.UtcNow));
        }, default))));

        Assert.Equal(-(60 * 61 / 2) + 60, await BalanceAsync(hub.Db, Accounts.MerchantPayable(merchant)));
        var verified = await ledger.VerifyAsync(null, default);
        Assert.True(verified.Ok, string.Join("; ", verified.Problems));
    }

    [Fact]
    public async Task One_transaction_posting_an_event_twice_posts_it_once_and_a_rolled_back_one_posts_nothing()
    {
        var ledger = hub.Service<LedgerStore>();
        var merchant = "mch_" + Guid.NewGuid().ToString("N")[..8];
        var (a, b) = (Ids.New("pay"), Ids.New("pay"));
        var answers = await hub.Db.WriteAsync(async (c, t) => new[]
        {
            await ledger.AppendAsync(c, t, "payment_captured", a, merchant, Lines(merchant, 100), DateTimeOffset.UtcNow),
            await ledger.AppendAsync(c, t, "payment_captured", a, merchant, Lines(merchant, 100), DateTimeOffset.UtcNow),
            await ledger.AppendAsync(c, t, "payment_captured", b, merchant, Lines(merchant, 200), DateTimeOffset.UtcNow),
        }, default);
        Assert.Equal([true, false, true], answers);
        Assert.Equal(-300, await BalanceAsync(hub.Db, Accounts.MerchantPayable(merchant)));

        // A transaction that posts and then fails leaves nothing; and the next ones (which may get the same pooled
        // connection and, on PostgreSQL, the same transaction object) post normally.
        var failed = Ids.New("pay");
        for (var i = 0; i < 5; i++)
        {
            await Assert.ThrowsAsync<InvalidOperationException>(() => hub.Db.WriteAsync<bool>(async (c, t) =>
            {
                await ledger.AppendAsync(c, t, "payment_captured", failed, merchant, Lines(merchant, 5), DateTimeOffset.UtcNow);
                throw new InvalidOperationException("the caller's own failure after posting");
            }, default));
            var next = Ids.New("pay");
            Assert.True(await hub.Db.WriteAsync((c, t) => ledger.AppendAsync(c, t, "payment_captured", next, merchant, Lines(merchant, 1), DateTimeOffset.UtcNow), default));
            Assert.Equal(1, await CountAsync(hub.Db, next));
        }

        Assert.Equal(0, await CountAsync(hub.Db, failed));
        Assert.Equal(-305, await BalanceAsync(hub.Db, Accounts.MerchantPayable(merchant)));
        Assert.True((await ledger.VerifyAsync(null, default)).Ok);
    }
}

[Collection("sqlite")]
public sealed class LedgerChainTests_Sqlite(SqliteHub hub) : LedgerChainTests(hub);

[Collection("postgres")]
public sealed class LedgerChainTests_Postgres(PostgresHub hub) : LedgerChainTests(hub);
