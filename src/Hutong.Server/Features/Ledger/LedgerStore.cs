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
/// whole chain. SQLite has one writer, so each append links to the entry before it at once. PostgreSQL appends wait for
/// no other payment: entries go in unlinked and <see cref="SealAsync"/> links them into the chain in batches after they
/// commit (docs/architecture.md, "Ledger").
/// </summary>
public sealed class LedgerStore(Db db)
{
    // PostgreSQL: the chain's lock, held by the one transaction that seals a batch and by a payout's check (one-key space,
    // as the singleton jobs').
    private const long ChainLock = 727275;

    // PostgreSQL: the class of the two-key advisory locks on an (account, currency): shared by every append that touches
    // it, exclusive for a posting near the balance limit.
    private const int AccountLockClass = 727277;

    // PostgreSQL: the class of the two-key advisory locks taken per (kind, reference) — a key space apart from the
    // one-key locks (the chain's, the singleton jobs').
    private const int ReferenceLockClass = 727276;

    /// <summary>Entries one sealing transaction links at most.</summary>
    internal const int SealBatch = 2_000;

    // Batches one SealAsync call seals at most, so a call is bounded even when appends outpace it (the next call goes on).
    private const int MaxSealBatches = 50;

    /// <summary>Posts one entry unless this (kind, reference) was already posted; returns whether it posted.</summary>
    public async Task<bool> AppendAsync(DbConnection c, DbTransaction t, string kind, string reference, string? merchantId, IReadOnlyList<LedgerLine> lines, DateTimeOffset now)
    {
        Postings.EnsureBalanced(lines);
        if (db.IsPostgres)
        {
            return await AppendPostgresAsync(c, t, kind, reference, merchantId, lines, now);
        }

        if (await c.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM ledger_entries WHERE kind = @kind AND reference = @reference", new { kind, reference }, t) > 0)
        {
            return false;
        }

        // Keep each account's balance within Money.MaxBalance, line by line in posting order, so every running sum of an
        // account's lines fits a 64-bit integer: SQLite's SUM fails on overflow ("integer overflow"). A line is itself at
        // most the limit, so the addition below (≤ 2 × 10^17) cannot overflow in SQL. SQLite's one writer serialises
        // appends, so read-add-check is race-free; throwing rolls the caller's whole transaction back.
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
    /// PostgreSQL: the entry is decided now — posted, or already posted, under an advisory lock on its (kind, reference)
    /// alone, so two transactions posting the same event see each other — and written, unlinked, in one round trip just
    /// before the transaction commits (<see cref="Db.TryGetCommitScope"/>; at once when the transaction cannot defer).
    /// Nothing here waits for another payment: linking each append to the one before it made a cluster commit one ledger
    /// append at a time (one lock held to the commit's WAL flush), and so did the balance rows every capture updated
    /// (wallet_clearing:{wallet}). Linking and the kept balances are now the sealer's work, one transaction per batch;
    /// the accounts' own locks are shared but near the balance limit.
    /// </summary>
    private static async Task<bool> AppendPostgresAsync(DbConnection c, DbTransaction t, string kind, string reference, string? merchantId, IReadOnlyList<LedgerLine> lines, DateTimeOffset now)
    {
        var deferred = Db.TryGetCommitScope(t, out var scope);
        var pending = deferred ? scope!.GetOrAdd(() => new PendingEntries()) : new PendingEntries();
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
        if (!deferred)
        {
            await pending.RunAsync(c, t);
        }

        return true;
    }

    /// <summary>The entries one PostgreSQL transaction posts, written unlinked just before its commit.</summary>
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

            // One round trip: a lock on each account touched, in one global order (so two postings never wait on each other
            // in a cycle) — shared, so appends do not wait for each other, or exclusive for a posting near the balance
            // limit (below) —, the accounts' balances as they stand then (sealed plus unsealed), every line, the entries
            // (each one's trigger checks its lines balance) and the copy of their lines in ledger_unsealed.
            var (c, t) = ((NpgsqlConnection)connection, (NpgsqlTransaction)transaction);
            var lines = _entries.SelectMany(e => e.Lines.Select(l => (e.Id, l))).ToList();
            var changes = ChangesOf(lines.Select(x => x.l));
            var lineColumns = new object[]
            {
                lines.Select(x => x.Id).ToArray(), lines.Select(x => x.l.Account).ToArray(), lines.Select(x => x.l.Currency).ToArray(),
                lines.Select(x => x.l.Amount).ToArray(),
            };
            var (accounts, currencies) = (changes.Select(k => k.Account).ToArray(), changes.Select(k => k.Currency).ToArray());
            var exclusive = new HashSet<(string, string)>();
            var balances = new Dictionary<(string, string), long>();
            await using (var batch = new NpgsqlBatch(c, t))
            {
                batch.BatchCommands.Add(Command(
                    $"""
                    SELECT k.a, k.c, x.exclusive,
                           CASE WHEN x.exclusive THEN pg_advisory_xact_lock($4, hashtext(k.a || E'\n' || k.c))::text
                                ELSE pg_advisory_xact_lock_shared($4, hashtext(k.a || E'\n' || k.c))::text END
                    FROM unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY AS k(a, c, ch, n)
                    CROSS JOIN LATERAL (SELECT abs(({CurrentBalanceOf("k.a", "k.c")}) + k.ch) > $5 OR abs(k.ch) > $6 AS exclusive) x
                    ORDER BY k.n
                    """,
                    accounts, currencies, changes.Select(k => k.Change).ToArray(), AccountLockClass, Money.MaxBalance / 2, UnlockedChange));
                batch.BatchCommands.Add(Command(
                    $"SELECT k.a, k.c, {CurrentBalanceOf("k.a", "k.c")} FROM unnest($1::text[], $2::text[]) AS k(a, c)", accounts, currencies));
                batch.BatchCommands.Add(Command(
                    "INSERT INTO ledger_lines (entry_id, account, currency, amount) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])",
                    lineColumns));
                batch.BatchCommands.Add(Command(
                    """
                    INSERT INTO ledger_entries (id, kind, reference, merchant_id, created_at)
                    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[])
                    """,
                    _entries.Select(e => e.Id).ToArray(), _entries.Select(e => e.Kind).ToArray(), _entries.Select(e => e.Reference).ToArray(),
                    _entries.Select(e => e.MerchantId).ToArray(), _entries.Select(e => e.CreatedAt).ToArray()));
                batch.BatchCommands.Add(Command(
                    "INSERT INTO ledger_unsealed (entry_id, account, currency, amount) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])",
                    lineColumns));
                await using var reader = await batch.ExecuteReaderAsync();
                do
                {
                    // The locks' rows (account, currency, exclusive, —) first, then the balances' (account, currency, balance).
                    while (reader.FieldCount >= 3 && await reader.ReadAsync())
                    {
                        if (reader.FieldCount == 4)
                        {
                            if (reader.GetBoolean(2))
                            {
                                exclusive.Add((reader.GetString(0), reader.GetString(1)));
                            }
                        }
                        else
                        {
                            balances[(reader.GetString(0), reader.GetString(1))] = reader.GetInt64(2);
                        }
                    }
                }
                while (await reader.NextResultAsync());
            }

            // An exclusive lock waits for every append in flight on the account to commit, so the balance read after it is
            // exact. A shared one is taken only by a posting that moves the account by at most UnlockedChange and leaves it
            // within half the limit; the appends in flight at once are fewer than PostgreSQL's connections (≤ 10,000), so
            // together they cannot pass the limit. (If the account crossed into the upper half between the decision and the
            // lock — another posting's commit in those microseconds — the posting is refused rather than risk it.)
            foreach (var (account, currency, change) in changes)
            {
                var after = balances[(account, currency)] + change;
                var limit = exclusive.Contains((account, currency)) ? Money.MaxBalance : Money.MaxBalance / 2;
                if (after > limit || after < -limit)
                {
                    throw new LedgerLimitException(account, currency);
                }
            }

            _entries.Clear();
        }
    }

    // A posting's change to one account above which it takes the account's lock exclusively: 5 × 10^12 minor units (50
    // times Money.MaxAmount), so no payment's posting ever does, and 10,000 unlocked ones in flight at once move an
    // account by at most half the limit.
    private const long UnlockedChange = Money.MaxBalance / 2 / 10_000;

    // The balance of (account, currency) now: sealed plus unsealed lines (0 if it has none) — an index range of the
    // account's unsealed rows, which the sealer keeps to a quarter second or so of postings.
    private static string CurrentBalanceOf(string account, string currency) =>
        $"""
        COALESCE((SELECT b.balance FROM ledger_balances b WHERE b.account = {account} AND b.currency = {currency}), 0)
            + COALESCE((SELECT SUM(u.amount) FROM ledger_unsealed u WHERE u.account = {account} AND u.currency = {currency} AND NOT u.balances_kept), 0)::BIGINT
        """;

    /// <summary>The lines' change per (account, currency), in account then currency order (ordinal).</summary>
    private static List<(string Account, string Currency, long Change)> ChangesOf(IEnumerable<LedgerLine> lines) =>
        lines.GroupBy(l => (l.Account, l.Currency))
            .Select(g => (g.Key.Account, g.Key.Currency, Change: g.Aggregate(0L, (sum, l) => checked(sum + l.Amount))))
            .OrderBy(x => x.Account, StringComparer.Ordinal).ThenBy(x => x.Currency, StringComparer.Ordinal).ToList();

    private static NpgsqlBatchCommand Command(string sql, params object?[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var v in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = v ?? DBNull.Value });
        }

        return command;
    }

    /// <summary>
    /// PostgreSQL: links the entries appended since the last call into the hash chain, oldest first, one transaction per
    /// batch under the chain's lock: each batch's links, its lines added to ledger_balances and its markers deleted commit
    /// together, so ledger_balances_current never counts a line twice or misses one. Bounded per call. Returns the entries
    /// sealed. A no-op on SQLite, where appends link at once.
    /// </summary>
    public async Task<int> SealAsync(CancellationToken ct)
    {
        if (!db.IsPostgres)
        {
            return 0;
        }

        var total = 0;
        for (var i = 0; i < MaxSealBatches; i++)
        {
            var n = await db.WriteAsync(SealBatchAsync, ct);
            total += n;
            if (n < SealBatch)
            {
                break;
            }
        }

        return total;
    }

    private static async Task<int> SealBatchAsync(DbConnection c, DbTransaction t)
    {
        await c.ExecuteAsync("SELECT pg_advisory_xact_lock(@ChainLock)", new { ChainLock }, t);
        // Entries with unsealed rows and no link yet (an unsealed row of a linked entry — written around the hub — is left
        // for verify to report, not linked twice). Lines come from ledger_lines, what the hash covers, not from the copy.
        var entries = (await c.QueryAsync<EntryRow>(
            """
            SELECT e.seq, e.id, e.kind, e.reference, e.merchant_id, e.created_at, bool_or(u.balances_kept) AS balances_kept
            FROM ledger_unsealed u JOIN ledger_entries e ON e.id = u.entry_id
            WHERE NOT EXISTS (SELECT 1 FROM ledger_chain ch WHERE ch.entry_id = e.id)
            GROUP BY e.seq, e.id ORDER BY e.seq LIMIT @SealBatch
            """, new { SealBatch }, t)).ToList();
        if (entries.Count == 0)
        {
            return 0;
        }

        var ids = entries.Select(e => e.Id).ToArray();
        var kept = entries.Where(e => e.BalancesKept).Select(e => e.Id).ToHashSet(StringComparer.Ordinal);
        var lines = (await c.QueryAsync<(string EntryId, string Account, string Currency, long Amount)>(
                "SELECT entry_id, account, currency, amount FROM ledger_lines WHERE entry_id = ANY(@ids)", new { ids }, t))
            .Select(l => (l.EntryId, l.Account, l.Currency, l.Amount, BalancesKept: kept.Contains(l.EntryId)))
            .ToList();
        var byEntry = lines.ToLookup(l => l.EntryId, l => new LedgerLine(l.Account, l.Currency, l.Amount));
        var (pos, previous) = await ChainEndAsync(c, t);
        var links = new List<(long Pos, string EntryId, string Prev, string Hash)>(entries.Count);
        foreach (var e in entries)
        {
            var hash = Postings.Hash(previous, new LedgerEntry(e.Id, e.Kind, e.Reference, e.MerchantId, e.CreatedAt, byEntry[e.Id].ToList()));
            links.Add((++pos, e.Id, previous, hash));
            previous = hash;
        }

        // One change per account: ON CONFLICT may not touch a row twice in one statement. An entry a hub of the previous
        // version wrote (a rolling upgrade) has its lines in the balances already (migration 0044's trigger marks it).
        var changes = ChangesOf(lines.Where(l => !l.BalancesKept).Select(l => new LedgerLine(l.Account, l.Currency, l.Amount)));
        await c.ExecuteAsync(
            "INSERT INTO ledger_chain (pos, entry_id, prev_hash, hash) SELECT * FROM unnest(@positions, @entryIds, @prevs, @hashes)",
            new
            {
                positions = links.Select(l => l.Pos).ToArray(), entryIds = links.Select(l => l.EntryId).ToArray(),
                prevs = links.Select(l => l.Prev).ToArray(), hashes = links.Select(l => l.Hash).ToArray(),
            }, t);
        await c.ExecuteAsync(
            """
            INSERT INTO ledger_balances (account, currency, balance) SELECT * FROM unnest(@accounts, @currencies, @amounts)
            ON CONFLICT (account, currency) DO UPDATE SET balance = ledger_balances.balance + excluded.balance
            """,
            new { accounts = changes.Select(x => x.Account).ToArray(), currencies = changes.Select(x => x.Currency).ToArray(), amounts = changes.Select(x => x.Change).ToArray() }, t);
        await c.ExecuteAsync("DELETE FROM ledger_unsealed WHERE entry_id = ANY(@ids)", new { ids }, t);
        return entries.Count;
    }

    /// <summary>
    /// PostgreSQL: the last link — in ledger_chain, or before the first seal the last entry linked inline (written before
    /// migration 0044), or the genesis — and its position (0 when ledger_chain is empty).
    /// </summary>
    private static async Task<(long Pos, string Hash)> ChainEndAsync(DbConnection c, DbTransaction? t)
    {
        var last = await c.QueryFirstOrDefaultAsync<ChainRow>("SELECT pos, hash FROM ledger_chain ORDER BY pos DESC LIMIT 1", transaction: t);
        if (last is not null)
        {
            return (last.Pos, last.Hash);
        }

        return (0, await c.ExecuteScalarAsync<string?>("SELECT hash FROM ledger_entries WHERE hash IS NOT NULL ORDER BY seq DESC LIMIT 1", transaction: t) ?? Postings.Genesis);
    }

    /// <summary>
    /// What the merchant is owed in <paramref name="currency"/> (its merchant_payable balance, credit positive), read in the
    /// caller's transaction under a lock every payout takes, so a payout checked against it and reserved in the same
    /// transaction cannot be overtaken by another hub's reservation (SQLite has one writer; PostgreSQL takes the chain's
    /// advisory lock until the commit, and reads the balance with what is not sealed yet).
    /// </summary>
    public async Task<long> AvailableLockedAsync(DbConnection c, DbTransaction t, string merchantId, string currency)
    {
        var account = Accounts.MerchantPayable(merchantId);
        if (db.IsPostgres)
        {
            // The chain's lock, as payouts took it before migration 0044, so a hub of the previous version (a rolling
            // upgrade) and this one cannot both spend the same balance; payouts are few, and the sealer holds it briefly.
            await c.ExecuteAsync("SELECT pg_advisory_xact_lock(@ChainLock)", new { ChainLock }, t);
        }

        return -await c.ExecuteScalarAsync<long>(
            "SELECT COALESCE(SUM(balance), 0) FROM ledger_balances_current WHERE account = @account AND currency = @currency",
            new { account, currency }, t);
    }

    /// <summary>The wallet fee posted for a payment (0 if none), as it was posted — not as today's rate would make it.</summary>
    public Task<long> FeeOfAsync(DbConnection c, DbTransaction? t, string paymentId) => c.ExecuteScalarAsync<long>(
        """
        SELECT COALESCE(SUM(l.amount), 0) FROM ledger_lines l JOIN ledger_entries e ON e.id = l.entry_id
        WHERE e.kind = 'wallet_fee' AND e.reference = @paymentId AND l.amount > 0
        """, new { paymentId }, t);

    /// <summary>
    /// Balances per account and currency (debit positive), optionally for accounts starting with a prefix: the balances the
    /// appends (SQLite) or the sealer (PostgreSQL, plus the lines not sealed yet) keep, each within Money.MaxBalance, so
    /// this never sums all lines and cannot overflow; verify re-sums them.
    /// </summary>
    public async Task<IReadOnlyList<(string Account, string Currency, long Balance)>> BalancesAsync(string? accountPrefix, CancellationToken ct) =>
        (await db.ReadAsync(c => c.QueryAsync<(string, string, long)>(
            "SELECT account, currency, balance FROM ledger_balances_current" + (accountPrefix is null ? string.Empty : " WHERE account LIKE @p") +
            " ORDER BY account, currency",
            new { p = accountPrefix + "%" }), ct)).ToList();

    /// <summary>
    /// Re-derives every entry's hash from its stored fields and lines and the previous link's hash, and re-checks that it
    /// balances. An edited amount, account, reference, a deleted or inserted line, or a removed entry or link shows up
    /// here. On PostgreSQL it first seals what has committed, then reads one snapshot: the entries linked inline (before
    /// migration 0044) in order, then ledger_chain in order; an entry in neither and not waiting for the sealer is reported.
    /// </summary>
    public async Task<LedgerVerification> VerifyAsync(IProgress<(long Done, long Total)>? progress, CancellationToken ct)
    {
        var problems = new List<string>();
        try
        {
            await SealAsync(ct);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            problems.Add("sealing failed (" + e.Message + "): what is linked is checked below");
        }

        await using var c = await db.OpenAsync(ct);
        await using var t = db.IsPostgres ? await c.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct) : null;
        var total = await c.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM ledger_entries" + (db.IsPostgres ? " e WHERE NOT EXISTS (SELECT 1 FROM ledger_unsealed u WHERE u.entry_id = e.id)" : string.Empty), transaction: t);
        var sums = new Dictionary<(string Account, string Currency), Int128>();
        var previous = Postings.Genesis;
        long done = 0;

        void Check(string label, LedgerEntry entry, string prevHash, string hash)
        {
            var entryLines = entry.Lines;
            foreach (var l in entryLines)
            {
                sums[(l.Account, l.Currency)] = sums.GetValueOrDefault((l.Account, l.Currency)) + l.Amount; // 128 bits: cannot overflow
            }

            if (prevHash != previous)
            {
                problems.Add($"{label}: does not follow the entry before it (an entry was removed or reordered)");
            }

            if (Postings.Hash(prevHash, entry) != hash)
            {
                problems.Add($"{label}: contents do not match its hash (edited)");
            }

            try
            {
                Postings.EnsureBalanced(entryLines);
            }
            catch (UnbalancedEntryException e)
            {
                problems.Add($"{label}: {e.Message}");
            }

            previous = hash;
            done++;
            progress?.Report((done, total));
        }

        // Entries linked as they were appended (all of SQLite's; PostgreSQL's from before migration 0044).
        for (long afterSeq = 0; ;)
        {
            var page = (await c.QueryAsync<EntryRow>(
                "SELECT seq, id, kind, reference, merchant_id, created_at, prev_hash, hash FROM ledger_entries WHERE seq > @afterSeq" +
                (db.IsPostgres ? " AND hash IS NOT NULL" : string.Empty) + " ORDER BY seq LIMIT 1000",
                new { afterSeq }, t)).ToList();
            if (page.Count == 0)
            {
                break;
            }

            var lines = await LinesOfAsync(c, t, page.Select(r => r.Id).ToArray());
            foreach (var row in page)
            {
                Check($"{row.Id} (#{row.Seq})", new LedgerEntry(row.Id, row.Kind, row.Reference, row.MerchantId, row.CreatedAt, lines[row.Id].ToList()), row.PrevHash!, row.Hash!);
                afterSeq = row.Seq;
            }
        }

        if (db.IsPostgres)
        {
            // Then the links the sealer wrote, in their order: positions run 1, 2, 3… so a removed link shows as a gap.
            for (long afterPos = 0; ;)
            {
                var page = (await c.QueryAsync<ChainRow>(
                    """
                    SELECT ch.pos, ch.entry_id, ch.prev_hash, ch.hash, e.seq, e.id, e.kind, e.reference, e.merchant_id, e.created_at
                    FROM ledger_chain ch LEFT JOIN ledger_entries e ON e.id = ch.entry_id
                    WHERE ch.pos > @afterPos ORDER BY ch.pos LIMIT 1000
                    """, new { afterPos }, t)).ToList();
                if (page.Count == 0)
                {
                    break;
                }

                var lines = await LinesOfAsync(c, t, page.Select(r => r.EntryId).ToArray());
                foreach (var link in page)
                {
                    if (link.Pos != afterPos + 1)
                    {
                        problems.Add($"link #{afterPos + 1}–#{link.Pos - 1}: missing (links were removed)");
                    }

                    afterPos = link.Pos;
                    if (link.Id is null)
                    {
                        problems.Add($"{link.EntryId} (link #{link.Pos}): the entry was removed");
                        previous = link.Hash;
                        continue;
                    }

                    Check($"{link.Id} (#{link.Seq}, link #{link.Pos})",
                        new LedgerEntry(link.Id, link.Kind!, link.Reference!, link.MerchantId, link.CreatedAt ?? 0, lines[link.Id].ToList()), link.PrevHash, link.Hash);
                }
            }

            foreach (var id in await c.QueryAsync<string>(
                         """
                         SELECT e.id FROM ledger_entries e
                         WHERE e.hash IS NULL AND NOT EXISTS (SELECT 1 FROM ledger_chain ch WHERE ch.entry_id = e.id)
                           AND NOT EXISTS (SELECT 1 FROM ledger_unsealed u WHERE u.entry_id = e.id)
                         ORDER BY e.seq LIMIT 100
                         """, transaction: t))
            {
                problems.Add($"{id}: not in the chain and not waiting to be sealed (inserted around the hub, or its unsealed lines removed)");
            }

            // What balances count before the sealer: the unsealed copy of each entry's lines must be exactly its lines.
            foreach (var (id, what) in await c.QueryAsync<(string, string)>(
                         """
                         SELECT DISTINCT u.entry_id, 'has unsealed lines but no entry (written around the hub)' FROM ledger_unsealed u
                         WHERE NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.id = u.entry_id)
                         UNION
                         SELECT DISTINCT u.entry_id, 'is linked but still has unsealed lines (written around the hub)' FROM ledger_unsealed u
                         JOIN ledger_entries e ON e.id = u.entry_id
                         WHERE e.hash IS NOT NULL OR EXISTS (SELECT 1 FROM ledger_chain ch WHERE ch.entry_id = u.entry_id)
                         UNION
                         SELECT COALESCE(u.entry_id, l.entry_id), 'has unsealed lines that differ from its lines (edited around the hub)'
                         FROM (SELECT entry_id, account, currency, SUM(amount) AS s FROM ledger_unsealed GROUP BY entry_id, account, currency) u
                         FULL JOIN (SELECT entry_id, account, currency, SUM(amount) AS s FROM ledger_lines
                                    WHERE entry_id IN (SELECT entry_id FROM ledger_unsealed) GROUP BY entry_id, account, currency) l
                           ON l.entry_id = u.entry_id AND l.account = u.account AND l.currency = u.currency
                         WHERE u.s IS DISTINCT FROM l.s
                         ORDER BY 1, 2 LIMIT 100
                         """, transaction: t))
            {
                problems.Add($"{id}: {what}");
            }

            // Lines a hub of the previous version already added to ledger_balances, not linked yet (a rolling upgrade).
            foreach (var (account, currency, amount) in await c.QueryAsync<(string, string, long)>(
                         "SELECT account, currency, SUM(amount)::BIGINT FROM ledger_unsealed WHERE balances_kept GROUP BY account, currency", transaction: t))
            {
                sums[(account, currency)] = sums.GetValueOrDefault((account, currency)) + amount;
            }
        }

        // The kept balances must be exactly the sums of the sealed lines (each within the limit), or balances would report
        // wrong.
        var kept = (await c.QueryAsync<(string Account, string Currency, long Balance)>("SELECT account, currency, balance FROM ledger_balances", transaction: t))
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

    private async Task<ILookup<string, LedgerLine>> LinesOfAsync(DbConnection c, DbTransaction? t, string[] ids) =>
        (await c.QueryAsync<(string EntryId, string Account, string Currency, long Amount)>(
            "SELECT entry_id, account, currency, amount FROM ledger_lines WHERE " + (db.IsPostgres ? "entry_id = ANY(@ids)" : "entry_id IN @ids") + " ORDER BY id",
            new { ids }, t))
        .ToLookup(l => l.EntryId, l => new LedgerLine(l.Account, l.Currency, l.Amount));

    private sealed class EntryRow
    {
        public long Seq { get; set; }

        public string Id { get; set; } = string.Empty;

        public string Kind { get; set; } = string.Empty;

        public string Reference { get; set; } = string.Empty;

        public string? MerchantId { get; set; }

        public long CreatedAt { get; set; }

        public string? PrevHash { get; set; }

        public string? Hash { get; set; }

        public bool BalancesKept { get; set; }
    }

    /// <summary>A link of ledger_chain, with its entry's fields (all null: the entry is gone).</summary>
    private sealed class ChainRow
    {
        public long Pos { get; set; }

        public string EntryId { get; set; } = string.Empty;

        public string PrevHash { get; set; } = string.Empty;

        public string Hash { get; set; } = string.Empty;

        public long? Seq { get; set; }

        public string? Id { get; set; }

        public string? Kind { get; set; }

        public string? Reference { get; set; }

        public string? MerchantId { get; set; }

        public long? CreatedAt { get; set; }
    }
}
