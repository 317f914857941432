using Dapper;
using Hutong.Domain;
using Hutong.Domain.Ledger;
using Hutong.Integration.Tests.Infrastructure;
using Hutong.Server.Features.Ledger;
using Hutong.Server.Storage;
using Npgsql;

namespace Hutong.Integration.Tests;

/// <summary>
/// PostgreSQL: appends write entries unlinked and the sealer links them into the hash chain in batches (migration 0044),
/// so no append waits for another payment's commit. Each test has a database of its own, so it may lock the chain or
/// tamper with the ledger without touching the shared one.
/// </summary>
public sealed class LedgerSealTests
{
    private const long ChainLock = 727275; // LedgerStore's: what every append took until its commit before 0044

    private static LedgerLine[] Lines(string merchantId, long fen) => Postings.Captured("wechatpay", merchantId, new Money(fen, Currency.Parse("CNY")));

    private static Task<bool> AppendAsync(Db db, LedgerStore ledger, string reference, long fen) =>
        db.WriteAsync((c, t) => ledger.AppendAsync(c, t, "payment_captured", reference, "mch_seal", Lines("mch_seal", fen), DateTimeOffset.UnixEpoch.AddDays(1)), default);

    private static Task<long> ScalarAsync(Db db, string sql, object? args = null) => db.ReadAsync(c => c.ExecuteScalarAsync<long>(sql, args), default);

    private static async Task WithDatabaseAsync(Func<Db, string, Task> test)
    {
        var name = "hutong_seal_" + Guid.NewGuid().ToString("N")[..10];
        var cs = await PostgresHub.CreateDatabaseAsync(name);
        try
        {
            await using var db = new Db(new StoreOptions { Provider = StoreProvider.Postgres, ConnectionString = cs });
            await Migrator.MigrateAsync(db, default);
            await test(db, cs);
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await PostgresHub.DropDatabaseAsync(name);
        }
    }

    /// <summary>Runs SQL around the ledger's triggers, as someone with the database's keys could.</summary>
    private static async Task AroundTheHubAsync(string cs, string sql, object? args = null)
    {
        await using var c = new NpgsqlConnection(cs);
        await c.OpenAsync();
        await c.ExecuteAsync("SET session_replication_role = replica; " + sql, args);
    }

    [Fact]
    public async Task An_append_commits_while_the_chain_is_locked_and_the_next_seal_links_it_and_folds_its_balance()
    {
        await WithDatabaseAsync(async (db, cs) =>
        {
            var ledger = new LedgerStore(db);
            var payable = Accounts.MerchantPayable("mch_seal");
            await using var holder = new NpgsqlConnection(cs);
            await holder.OpenAsync();
            await holder.ExecuteAsync("SELECT pg_advisory_lock(@ChainLock)", new { ChainLock });
            Task<bool> append;
            try
            {
                // Until 0044 every append took the chain's lock before its commit: this one would wait for the holder.
                append = AppendAsync(db, ledger, "pay_locked", 1234);
                Assert.Same(append, await Task.WhenAny(append, Task.Delay(TimeSpan.FromSeconds(15))));
                Assert.True(await append);

                // Committed, unlinked: the balance already counts it; the kept (sealed) balance does not yet.
                Assert.Equal(1, await ScalarAsync(db, "SELECT COUNT(DISTINCT entry_id) FROM ledger_unsealed"));
                Assert.Equal(-1234, await ScalarAsync(db, "SELECT balance FROM ledger_balances_current WHERE account = @payable", new { payable }));
                Assert.Equal(0, await ScalarAsync(db, "SELECT COUNT(*) FROM ledger_balances"));
            }
            finally
            {
                await holder.ExecuteAsync("SELECT pg_advisory_unlock(@ChainLock)", new { ChainLock });
            }

            Assert.Equal(1234, await db.WriteAsync((c, t) => ledger.AvailableLockedAsync(c, t, "mch_seal", "CNY"), default)); // a payout's check

            Assert.Equal(1, await ledger.SealAsync(default));
            Assert.Equal(0, await ledger.SealAsync(default));
            Assert.Equal(0, await ScalarAsync(db, "SELECT COUNT(*) FROM ledger_unsealed"));
            Assert.Equal(-1234, await ScalarAsync(db, "SELECT balance FROM ledger_balances WHERE account = @payable", new { payable }));
            Assert.Equal(-1234, await ScalarAsync(db, "SELECT balance FROM ledger_balances_current WHERE account = @payable", new { payable }));
            Assert.Equal(1, await ScalarAsync(db, "SELECT pos FROM ledger_chain"));
            var verified = await ledger.VerifyAsync(null, default);
            Assert.True(verified.Ok, string.Join("; ", verified.Problems));
            Assert.Equal(1, verified.Entries);
        });
    }

    [Fact]
    public async Task Seals_link_in_batches_one_chain_whose_positions_run_without_a_gap()
    {
        await WithDatabaseAsync(async (db, _) =>
        {
            var ledger = new LedgerStore(db);
            var appends = LedgerStore.SealBatch + 5; // two batches in one call
            await db.WriteAsync(async (c, t) =>
            {
                for (var i = 1; i <= appends; i++)
                {
                    Assert.True(await ledger.AppendAsync(c, t, "payment_captured", $"pay_{i}", "mch_seal", Lines("mch_seal", i), DateTimeOffset.UnixEpoch));
                }
            }, default);
            Assert.True(await AppendAsync(db, ledger, "pay_1", 1) is false); // posted once

            Assert.Equal(appends, await ledger.SealAsync(default));
            Assert.Equal(appends, await ScalarAsync(db, "SELECT MAX(pos) FROM ledger_chain"));
            Assert.Equal(appends, await ScalarAsync(db, "SELECT COUNT(*) FROM ledger_chain"));
            Assert.Equal(appends - 1, await ScalarAsync(db, "SELECT COUNT(*) FROM ledger_chain a JOIN ledger_chain b ON b.pos = a.pos + 1 WHERE b.prev_hash = a.hash"));
            Assert.Equal(-(long)appends * (appends + 1) / 2, await ScalarAsync(db, "SELECT balance FROM ledger_balances WHERE account = @a", new { a = Accounts.MerchantPayable("mch_seal") }));
            Assert.True((await ledger.VerifyAsync(null, default)).Ok);
        });
    }

    [Fact]
    public async Task Verify_finds_an_edited_sealed_entry_a_removed_link_and_an_entry_slipped_in_around_the_hub()
    {
        await WithDatabaseAsync(async (db, cs) =>
        {
            var ledger = new LedgerStore(db);
            foreach (var (reference, fen) in new[] { ("pay_a", 100L), ("pay_b", 200L), ("pay_c", 300L) })
            {
                Assert.True(await AppendAsync(db, ledger, reference, fen));
            }

            Assert.Equal(3, await ledger.SealAsync(default));
            Assert.True((await ledger.VerifyAsync(null, default)).Ok);
            var b = await db.ReadAsync(c => c.ExecuteScalarAsync<string>("SELECT id FROM ledger_entries WHERE reference = 'pay_b'"), default);

            // An amount edited (both lines, so the entry still balances and only the hash can tell).
            await AroundTheHubAsync(cs, "UPDATE ledger_lines SET amount = amount * 2 WHERE entry_id = @b", new { b });
            var edited = await ledger.VerifyAsync(null, default);
            Assert.Contains(edited.Problems, p => p.StartsWith(b!, StringComparison.Ordinal) && p.Contains("contents do not match its hash", StringComparison.Ordinal));
            await AroundTheHubAsync(cs, "UPDATE ledger_lines SET amount = amount / 2 WHERE entry_id = @b", new { b });
            Assert.True((await ledger.VerifyAsync(null, default)).Ok);

            // A link removed: the gap, the next link no longer following, and the entry left out of the chain.
            await AroundTheHubAsync(cs, "CREATE TABLE kept AS SELECT * FROM ledger_chain WHERE pos = 2; DELETE FROM ledger_chain WHERE pos = 2");
            var removed = await ledger.VerifyAsync(null, default);
            Assert.Contains(removed.Problems, p => p.Contains("link #2–#2: missing", StringComparison.Ordinal));
            Assert.Contains(removed.Problems, p => p.Contains("link #3", StringComparison.Ordinal) && p.Contains("does not follow", StringComparison.Ordinal));
            Assert.Contains(removed.Problems, p => p.StartsWith(b + ": not in the chain", StringComparison.Ordinal));
            await AroundTheHubAsync(cs, "INSERT INTO ledger_chain SELECT * FROM kept; DROP TABLE kept");
            Assert.True((await ledger.VerifyAsync(null, default)).Ok);

            // Unsealed lines with no entry: they count in balances (ledger_balances_current), so verify reports them.
            await AroundTheHubAsync(cs, "INSERT INTO ledger_unsealed (entry_id, account, currency, amount) VALUES ('le_forged', 'merchant_payable:mch_seal', 'CNY', -1000000)");
            Assert.Contains("le_forged: has unsealed lines but no entry (written around the hub)", (await ledger.VerifyAsync(null, default)).Problems);
            await AroundTheHubAsync(cs, "DELETE FROM ledger_unsealed WHERE entry_id = 'le_forged'");
            Assert.True((await ledger.VerifyAsync(null, default)).Ok);

            // An entry inserted without its unsealed lines (so the sealer never sees it).
            await AroundTheHubAsync(cs,
                """
                INSERT INTO ledger_lines (entry_id, account, currency, amount) VALUES ('le_slipped', 'x', 'CNY', 5), ('le_slipped', 'y', 'CNY', -5);
                INSERT INTO ledger_entries (id, kind, reference, created_at) VALUES ('le_slipped', 'manual', 'slipped', 0)
                """);
            var slipped = await ledger.VerifyAsync(null, default);
            Assert.Equal(["le_slipped: not in the chain and not waiting to be sealed (inserted around the hub, or its unsealed lines removed)"], slipped.Problems);
        });
    }

    [Fact]
    public async Task Entries_linked_inline_before_migration_0044_are_followed_by_the_sealed_chain()
    {
        await WithDatabaseAsync(async (db, cs) =>
        {
            // Two entries as a hub before 0044 wrote them: linked at once, their balances kept by the append.
            var previous = Postings.Genesis;
            foreach (var (id, fen) in new[] { ("le_old1", 10L), ("le_old2", 20L) })
            {
                var entry = new LedgerEntry(id, "payment_captured", "pay_" + id, "mch_seal", 1, Lines("mch_seal", fen));
                var hash = Postings.Hash(previous, entry);
                await AroundTheHubAsync(cs,
                    """
                    INSERT INTO ledger_lines (entry_id, account, currency, amount) SELECT @id, a, 'CNY', m FROM unnest(@accounts, @amounts) AS x(a, m);
                    INSERT INTO ledger_entries (id, kind, reference, merchant_id, created_at, prev_hash, hash) VALUES (@id, 'payment_captured', @reference, 'mch_seal', 1, @previous, @hash);
                    INSERT INTO ledger_balances (account, currency, balance) SELECT a, 'CNY', m FROM unnest(@accounts, @amounts) AS x(a, m)
                    ON CONFLICT (account, currency) DO UPDATE SET balance = ledger_balances.balance + excluded.balance
                    """,
                    new { id, reference = entry.Reference, previous, hash, accounts = entry.Lines.Select(l => l.Account).ToArray(), amounts = entry.Lines.Select(l => l.Amount).ToArray() });
                previous = hash;
            }

            var ledger = new LedgerStore(db);
            Assert.True(await AppendAsync(db, ledger, "pay_new", 30));
            Assert.Equal(1, await ledger.SealAsync(default));
            Assert.Equal(previous, await db.ReadAsync(c => c.ExecuteScalarAsync<string>("SELECT prev_hash FROM ledger_chain WHERE pos = 1"), default));
            var verified = await ledger.VerifyAsync(null, default);
            Assert.True(verified.Ok, string.Join("; ", verified.Problems));
            Assert.Equal(3, verified.Entries);
            Assert.Equal(-60, await ScalarAsync(db, "SELECT balance FROM ledger_balances WHERE account = @a", new { a = Accounts.MerchantPayable("mch_seal") }));
        });
    }

    [Fact]
    public async Task An_entry_a_hub_of_the_previous_version_writes_during_a_rolling_upgrade_joins_the_chain_with_its_lines_counted_once()
    {
        await WithDatabaseAsync(async (db, cs) =>
        {
            var ledger = new LedgerStore(db);
            var payable = Accounts.MerchantPayable("mch_seal");
            Assert.True(await AppendAsync(db, ledger, "pay_new1", 100));
            Assert.Equal(1, await ledger.SealAsync(default));

            // What the append of the version before 0044 sent, in its one round trip under the chain's lock: the lines, the
            // entry linked (by the server) to the newest entry that has a link, and the balances.
            var old = new LedgerEntry("le_oldhub", "payment_captured", "pay_oldhub", "mch_seal", 2, Lines("mch_seal", 40));
            await using (var c = new NpgsqlConnection(cs))
            {
                await c.OpenAsync();
                await using var t = await c.BeginTransactionAsync();
                var args = new
                {
                    id = old.Id, reference = old.Reference, text = Postings.CanonicalText(old), genesis = Postings.Genesis,
                    accounts = old.Lines.Select(l => l.Account).ToArray(), amounts = old.Lines.Select(l => l.Amount).ToArray(),
                };
                await c.ExecuteAsync(
                    """
                    SELECT pg_advisory_xact_lock(727275);
                    INSERT INTO ledger_lines (entry_id, account, currency, amount) SELECT @id, a, 'CNY', m FROM unnest(@accounts, @amounts) AS x(a, m);
                    INSERT INTO ledger_entries (id, kind, reference, merchant_id, created_at, prev_hash, hash)
                    SELECT @id, 'payment_captured', @reference, 'mch_seal', 2, p.h, encode(sha256(convert_to(p.h || E'\n' || @text, 'UTF8')), 'hex')
                    FROM (SELECT COALESCE((SELECT hash FROM ledger_entries ORDER BY seq DESC LIMIT 1), @genesis) AS h) p;
                    INSERT INTO ledger_balances (account, currency, balance) SELECT a, 'CNY', m FROM unnest(@accounts, @amounts) AS x(a, m)
                    ON CONFLICT (account, currency) DO UPDATE SET balance = ledger_balances.balance + excluded.balance
                    """, args, t);
                await t.CommitAsync();
            }

            Assert.Equal(1, await ScalarAsync(db, "SELECT COUNT(DISTINCT entry_id) FROM ledger_unsealed WHERE balances_kept"));
            Assert.Equal(0, await ScalarAsync(db, "SELECT COUNT(*) FROM ledger_entries WHERE hash IS NOT NULL"));
            Assert.Equal(-140, await ScalarAsync(db, "SELECT balance FROM ledger_balances_current WHERE account = @payable", new { payable }));

            Assert.True(await AppendAsync(db, ledger, "pay_new2", 200));
            Assert.Equal(2, await ledger.SealAsync(default));
            Assert.Equal(-340, await ScalarAsync(db, "SELECT balance FROM ledger_balances WHERE account = @payable", new { payable }));
            Assert.Equal(-340, await ScalarAsync(db, "SELECT balance FROM ledger_balances_current WHERE account = @payable", new { payable }));
            Assert.Equal(2, await ScalarAsync(db, "SELECT pos FROM ledger_chain WHERE entry_id = 'le_oldhub'"));
            var verified = await ledger.VerifyAsync(null, default);
            Assert.True(verified.Ok, string.Join("; ", verified.Problems));
            Assert.Equal(3, verified.Entries);
        });
    }

    [Fact]
    public async Task A_posting_past_the_balance_limit_is_refused_exactly_even_when_two_race_for_the_last_room()
    {
        await WithDatabaseAsync(async (db, _) =>
        {
            var ledger = new LedgerStore(db);
            LedgerLine[] Big(long amount) => [new LedgerLine("test_big:x", "CNY", amount), new LedgerLine("test_off:x", "CNY", -amount)];

            // Two entries in one transaction to accounts with no balance yet: the second takes them past the limit.
            await Assert.ThrowsAsync<LedgerLimitException>(() => db.WriteAsync(async (c, t) =>
            {
                await ledger.AppendAsync(c, t, "test", "big_1", null, Big(Money.MaxBalance), DateTimeOffset.UnixEpoch);
                return await ledger.AppendAsync(c, t, "test", "big_2", null, Big(1), DateTimeOffset.UnixEpoch);
            }, default));
            Assert.Equal(0, await ScalarAsync(db, "SELECT COUNT(*) FROM ledger_entries"));

            // Twenty transactions race, each for 60 % of the limit: exactly one fits, whatever the sealer has done.
            var posted = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(async () =>
            {
                try
                {
                    return await db.WriteAsync((c, t) => ledger.AppendAsync(c, t, "test", $"race_{i}", null, Big(Money.MaxBalance / 10 * 6), DateTimeOffset.UnixEpoch), default);
                }
                catch (LedgerLimitException)
                {
                    return false;
                }
            })));
            Assert.Equal(1, posted.Count(p => p));
            Assert.Equal(Money.MaxBalance / 10 * 6, await ScalarAsync(db, "SELECT balance FROM ledger_balances_current WHERE account = 'test_big:x'"));
            Assert.True((await ledger.VerifyAsync(null, default)).Ok);
        });
    }
}
