using System.Data.Common;
using System.Globalization;
using Dapper;
using Hutong.Domain;
using Hutong.Domain.Ledger;
using Hutong.Server.Storage;
using Npgsql;

namespace Hutong.Server.Features.Ledger;

/// <summary>What <see cref="LedgerStore.VerifyAsync"/> found: entries read, and each one that breaks a rule.</summary>
public sealed record LedgerVerification(long Entries, IReadOnlyList<string> Problems)
{
    public bool Ok => Problems.Count == 0;
}

/// <summary>
/// Appends journal entries inside the caller's transaction (so a posting commits with its state change) and checks the
/// whole chain. Appends are serialised — SQLite has one writer; PostgreSQL takes a transaction-scoped advisory lock —
/// so each entry links to the one before it.
/// </summary>
public sealed class LedgerStore(Db db)
{
    private const long ChainLock = 727275;

    // PostgreSQL: the class of the two-key advisory locks taken per (kind, reference) — a key space apart from the
    // one-key locks (the chain's, the singleton jobs').
    private const int ReferenceLockClass = 727276;

    /// <summary>Posts one entry unless this (kind, reference) was already posted; returns whether it posted.</summary>
    public async Task<bool> AppendAsync(DbConnection c, DbTransaction t, string kind, string reference, string? merchantId, IReadOnlyList<LedgerLine> lines, DateTimeOffset now)
    {
        Postings.EnsureBalanced(lines);
        if (db.IsPostgres)
        {
            if (await AppendBeforeCommitAsync(c, t, kind, reference, merchantId, lines, now) is { } posted)
            {
                return posted;
            }

            await c.ExecuteAsync("SELECT pg_advisory_xact_lock(@ChainLock)", new { ChainLock }, t);
        }

        if (await c.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM ledger_entries WHERE kind = @kind AND reference = @reference", new { kind, reference }, t) > 0)
        {
            return false;
        }

        // Keep each account's balance within Money.MaxBalance, line by line in posting order, so every running sum of an
        // account's lines fits a 64-bit integer: SQLite's SUM fails on overflow ("integer overflow") and PostgreSQL's
        // numeric SUM could not be read back into a long. A line is itself at most the limit, so the addition below
        // (≤ 2 × 10^17) cannot overflow in SQL. Appends are serialised (see above), so read-add-check is race-free;
        // throwing rolls the caller's whole transaction back.
        foreach (var l in lines)
        {
            var balance = Math.Abs(l.Amount) > Money.MaxBalance ? long.MaxValue : await c.ExecuteScalarAsync<long>(
                """
                INSERT INTO ledger_balances (account, currency, balance) VALUES (@Account, @Currency, @Amount)
                ON CONFLICT (account, currency) DO UPDATE SET balance = ledger_balances.balance + excluded.balance
                RETURNING balance
                """, l, t);
            if (balance is > Money.MaxBalance or < -Money.MaxBalance)
            {
                throw new LedgerLimitException(l.Account, l.Currency);
            }
        }

        var previous = await c.ExecuteScalarAsync<string?>("SELECT hash FROM ledger_entries ORDER BY seq DESC LIMIT 1", transaction: t) ?? Postings.Genesis;
        var entry = new LedgerEntry(Ids.New("le", now), kind, reference, merchantId, now.ToUnixTimeMilliseconds(), lines);
        await c.ExecuteAsync("INSERT INTO ledger_lines (entry_id, account, currency, amount) VALUES (@EntryId, @Account, @Currency, @Amount)",
            lines.Select(l => new { EntryId = entry.Id, l.Account, l.Currency, l.Amount }), t);
        await c.ExecuteAsync(
            """
            INSERT INTO ledger_entries (id, kind, reference, merchant_id, created_at, prev_hash, hash)
            VALUES (@Id, @Kind, @Reference, @MerchantId, @CreatedAt, @previous, @hash)
            """,
            new { entry.Id, entry.Kind, entry.Reference, entry.MerchantId, entry.CreatedAt, previous, hash = Postings.Hash(previous, entry) }, t);
        return true;
    }

    /// <summary>
    /// PostgreSQL: every append links to the entry before it, so appends are serialised on one lock held until the commit.
    /// Taken in the middle of a transaction, that lock was held for everything the transaction did afterwards — a dozen
    /// round trips per payment, and it capped a whole cluster's payments at ~150/s. Here the entry is only decided now
    /// (posted or already posted, under a lock on its (kind, reference) alone, so two transactions posting the same event
    /// still see each other); the chain's lock is taken just before the commit, and the entries, their lines and the
    /// balances go in one round trip under it (<see cref="Db.TryGetCommitScope"/>). Null when the transaction cannot
    /// defer: then the caller posts at once.
    /// </summary>
    private async Task<bool?> AppendBeforeCommitAsync(DbConnection c, DbTransaction t, string kind, string reference, string? merchantId, IReadOnlyList<LedgerLine> lines, DateTimeOffset now)
    {
        if (!Db.TryGetCommitScope(t, out var scope))
        {
            return null;
        }

        var pending = scope.GetOrAdd(() => new PendingEntries());
        if (pending.Has(kind, reference))
        {
            return false;
        }

        // Each its own statement, so the count reads what committed while this transaction waited for the lock.
        await using (var grid = await c.QueryMultipleAsync(
            """
            SELECT pg_advisory_xact_lock(@ReferenceLockClass, hashtext(@key));
            SELECT COUNT(*) FROM ledger_entries WHERE kind = @kind AND reference = @reference
            """, new { ReferenceLockClass, key = kind + "\n" + reference, kind, reference }, t))
        {
            await grid.ReadAsync();
            if (await grid.ReadSingleAsync<long>() > 0)
            {
                return false;
            }
        }

        foreach (var l in lines.Where(l => Math.Abs(l.Amount) > Money.MaxBalance))
        {
            throw new LedgerLimitException(l.Account, l.Currency);
        }

        pending.Add(new LedgerEntry(Ids.New("le", now), kind, reference, merchantId, now.ToUnixTimeMilliseconds(), lines));
        return true;
    }

    /// <summary>The entries one PostgreSQL transaction posts, written under the chain's lock just before its commit.</summary>
    private sealed class PendingEntries : Db.IBeforeCommit
    {
        private readonly List<LedgerEntry> _entries = [];

        public bool Has(string kind, string reference) => _entries.Exists(e => e.Kind == kind && e.Reference == reference);

        public void Add(LedgerEntry entry) => _entries.Add(entry);

        public async Task RunAsync(DbConnection connection, DbTransaction transaction)
        {
            if (_entries.Count == 0)
            {
                return;
            }

            // One round trip for the whole append, so the chain's lock is held for the server's work and the commit, not
            // while this hub (busy with other requests) turns round between statements: the lock, every line, each entry
            // (its trigger checks its lines balance; its link computed by the server, exactly as Postings.Hash does,
            // from the newest entry — this transaction's previous one, or the last committed: only the lock's holder
            // inserts entries), then the balances.
            var (c, t) = ((NpgsqlConnection)connection, (NpgsqlTransaction)transaction);
            await using var batch = new NpgsqlBatch(c, t);
            batch.BatchCommands.Add(Command("SELECT pg_advisory_xact_lock($1)", ChainLock));
            var lines = _entries.SelectMany(e => e.Lines.Select(l => (e.Id, l))).ToList();
            batch.BatchCommands.Add(Command(
                "INSERT INTO ledger_lines (entry_id, account, currency, amount) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])",
                lines.Select(x => x.Id).ToArray(), lines.Select(x => x.l.Account).ToArray(), lines.Select(x => x.l.Currency).ToArray(),
                lines.Select(x => x.l.Amount).ToArray()));
            foreach (var e in _entries)
            {
                batch.BatchCommands.Add(Command(
                    """
                    INSERT INTO ledger_entries (id, kind, reference, merchant_id, created_at, prev_hash, hash)
                    SELECT $1, $2, $3, $4, $5, p.h, encode(sha256(convert_to(p.h || E'\n' || $6, 'UTF8')), 'hex')
                    FROM (SELECT COALESCE((SELECT hash FROM ledger_entries ORDER BY seq DESC LIMIT 1), $7) AS h) p
                    """,
                    e.Id, e.Kind, e.Reference, (object?)e.MerchantId ?? DBNull.Value, e.CreatedAt, Postings.CanonicalText(e), Postings.Genesis));
            }

            // One change per account: ON CONFLICT may not touch a row twice in one statement. A change is at most a few
            // lines of at most the limit each, so it and the new balance fit 64 bits; a balance past the limit rolls back.
            var changes = lines.GroupBy(x => (x.l.Account, x.l.Currency))
                .Select(g => (g.Key.Account, g.Key.Currency, Change: g.Aggregate(0L, (sum, x) => checked(sum + x.l.Amount))))
                .OrderBy(x => x.Account, StringComparer.Ordinal).ThenBy(x => x.Currency, StringComparer.Ordinal).ToList();
            foreach (var x in changes.Where(x => Math.Abs(x.Change) > 2 * Money.MaxBalance))
            {
                throw new LedgerLimitException(x.Account, x.Currency);
            }

            batch.BatchCommands.Add(Command(
                """
                INSERT INTO ledger_balances (account, currency, balance) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
                ON CONFLICT (account, currency) DO UPDATE SET balance = ledger_balances.balance + excluded.balance
                RETURNING account, currency, balance
                """,
                changes.Select(x => x.Account).ToArray(), changes.Select(x => x.Currency).ToArray(), changes.Select(x => x.Change).ToArray()));
            await using var reader = await batch.ExecuteReaderAsync();
            do
            {
                // The lock's row comes first; the balances' rows (account, currency, balance) last.
                while (reader.FieldCount == 3 && await reader.ReadAsync())
                {
                    if (reader.GetInt64(2) is > Money.MaxBalance or < -Money.MaxBalance)
                    {
                        throw new LedgerLimitException(reader.GetString(0), reader.GetString(1));
                    }
                }
            }
            while (await reader.NextResultAsync());

            _entries.Clear();
        }

        private static NpgsqlBatchCommand Command(string sql, params object[] values)
        {
            var command = new NpgsqlBatchCommand(sql);
            foreach (var v in values)
            {
                command.Parameters.Add(new NpgsqlParameter { Value = v });
            }

            return command;
        }
    }

    /// <summary>
    /// What the merchant is owed in <paramref name="currency"/> (its merchant_payable balance, credit positive), read in the
    /// caller's transaction under the lock appends take, so a payout checked against it and reserved in the same transaction
    /// cannot be overtaken by another hub's reservation (SQLite has one writer; PostgreSQL waits on the chain's lock).
    /// </summary>
    public async Task<long> AvailableLockedAsync(DbConnection c, DbTransaction t, string merchantId, string currency)
    {
        if (db.IsPostgres)
        {
            await c.ExecuteAsync("SELECT pg_advisory_xact_lock(@ChainLock)", new { ChainLock }, t);
        }

        return -await c.ExecuteScalarAsync<long>(
            "SELECT COALESCE(SUM(balance), 0) FROM ledger_balances WHERE account = @account AND currency = @currency",
            new { account = Accounts.MerchantPayable(merchantId), currency }, t);
    }

    /// <summary>The wallet fee posted for a payment (0 if none), as it was posted — not as today's rate would make it.</summary>
    public Task<long> FeeOfAsync(DbConnection c, DbTransaction? t, string paymentId) => c.ExecuteScalarAsync<long>(
        """
        SELECT COALESCE(SUM(l.amount), 0) FROM ledger_lines l JOIN ledger_entries e ON e.id = l.entry_id
        WHERE e.kind = 'wallet_fee' AND e.reference = @paymentId AND l.amount > 0
        """, new { paymentId }, t);

    /// <summary>
    /// Balances per account and currency (debit positive), optionally for accounts starting with a prefix: the balances the
    /// appends keep (each within Money.MaxBalance), so this never sums lines and cannot overflow; verify re-sums them.
    /// </summary>
    public async Task<IReadOnlyList<(string Account, string Currency, long Balance)>> BalancesAsync(string? accountPrefix, CancellationToken ct) =>
        (await db.ReadAsync(c => c.QueryAsync<(string, string, long)>(
            "SELECT account, currency, balance FROM ledger_balances" + (accountPrefix is null ? string.Empty : " WHERE account LIKE @p") +
            " ORDER BY account, currency",
            new { p = accountPrefix + "%" }), ct)).ToList();

    /// <summary>
    /// Re-derives every entry's hash from its stored fields and lines and the previous entry's hash, and re-checks that
    /// it balances. An edited amount, account, reference, a deleted or inserted line, or a removed entry shows up here.
    /// </summary>
    public async Task<LedgerVerification> VerifyAsync(IProgress<(long Done, long Total)>? progress, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var total = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM ledger_entries");
        var problems = new List<string>();
        var sums = new Dictionary<(string Account, string Currency), Int128>();
        var previous = Postings.Genesis;
        long done = 0;
        long afterSeq = 0;
        while (true)
        {
            var page = (await c.QueryAsync<EntryRow>(
                "SELECT seq, id, kind, reference, merchant_id, created_at, prev_hash, hash FROM ledger_entries WHERE seq > @afterSeq ORDER BY seq LIMIT 1000",
                new { afterSeq })).ToList();
            if (page.Count == 0)
            {
                break;
            }

            var (from, to) = (page[0].Seq, page[^1].Seq);
            var lines = (await c.QueryAsync<(string EntryId, string Account, string Currency, long Amount)>(
                    """
                    SELECT l.entry_id, l.account, l.currency, l.amount FROM ledger_lines l JOIN ledger_entries e ON e.id = l.entry_id
                    WHERE e.seq BETWEEN @from AND @to
                    """, new { from, to }))
                .ToLookup(l => l.EntryId, l => new LedgerLine(l.Account, l.Currency, l.Amount));
            foreach (var row in page)
            {
                var entryLines = lines[row.Id].ToList();
                foreach (var l in entryLines)
                {
                    sums[(l.Account, l.Currency)] = sums.GetValueOrDefault((l.Account, l.Currency)) + l.Amount; // 128 bits: cannot overflow
                }

                if (row.PrevHash != previous)
                {
                    problems.Add($"{row.Id} (#{row.Seq}): does not follow the entry before it (an entry was removed or reordered)");
                }

                var expected = Postings.Hash(row.PrevHash, new LedgerEntry(row.Id, row.Kind, row.Reference, row.MerchantId, row.CreatedAt, entryLines));
                if (expected != row.Hash)
                {
                    problems.Add($"{row.Id} (#{row.Seq}): contents do not match its hash (edited)");
                }

                try
                {
                    Postings.EnsureBalanced(entryLines);
                }
                catch (UnbalancedEntryException e)
                {
                    problems.Add($"{row.Id} (#{row.Seq}): {e.Message}");
                }

                previous = row.Hash;
                afterSeq = row.Seq;
                done++;
                progress?.Report((done, total));
            }
        }

        // The kept balances must be exactly the sums of the lines (each within the limit), or balances would report wrong.
        var kept = (await c.QueryAsync<(string Account, string Currency, long Balance)>("SELECT account, currency, balance FROM ledger_balances"))
            .ToDictionary(b => (b.Account, b.Currency), b => b.Balance);
        foreach (var ((account, currency), sum) in sums.OrderBy(x => x.Key.Account, StringComparer.Ordinal))
        {
            if (!kept.TryGetValue((account, currency), out var balance) || balance != sum)
            {
                problems.Add($"{account} ({currency}): lines sum to {sum}, kept balance is {(kept.ContainsKey((account, currency)) ? balance.ToString(CultureInfo.InvariantCulture) : "missing")}");
            }
        }

        foreach (var ((account, currency), balance) in kept.Where(x => !sums.ContainsKey(x.Key) && x.Value != 0))
        {
            problems.Add($"{account} ({currency}): kept balance is {balance} but it has no lines");
        }

        foreach (var ((account, currency), sum) in sums.Where(x => x.Value > Money.MaxBalance || x.Value < -Money.MaxBalance))
        {
            problems.Add($"{account} ({currency}): balance {sum} is past the limit of {Money.MaxBalance}");
        }

        return new LedgerVerification(done, problems);
    }

    private sealed class EntryRow
    {
        public long Seq { get; set; }

        public string Id { get; set; } = string.Empty;

        public string Kind { get; set; } = string.Empty;

        public string Reference { get; set; } = string.Empty;

        public string? MerchantId { get; set; }

        public long CreatedAt { get; set; }

        public string PrevHash { get; set; } = string.Empty;

        public string Hash { get; set; } = string.Empty;
    }
}
