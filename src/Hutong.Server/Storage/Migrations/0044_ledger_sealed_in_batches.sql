-- PostgreSQL: ledger entries are sealed into the hash chain in batches, after they commit, instead of each append
-- taking the chain's lock through its commit. That lock (and the hot balance rows, e.g. wallet_clearing:{wallet}, which
-- every capture updated) serialised every success of a whole cluster through one transaction's turn-round to COMMIT
-- and its WAL flush: about 116 end-to-end payments/s however many hubs (docs/perf-hub-cpu.md).
--
-- Now an append inserts its lines, its entry (prev_hash and hash left NULL) and a marker in ledger_unsealed, taking no
-- lock shared with other payments. The sealer (one transaction per batch, under the chain's lock: the `ledger-seal` job
-- and `hutong ledger verify`) links the oldest unsealed entries after the last link in ledger_chain, adds their lines to
-- ledger_balances and deletes their markers, all in one commit. Entries written before this migration keep their
-- inline links; the first link in ledger_chain follows the last of them. ledger_balances_current is what a balance is
-- now: the sealed balance plus the lines still unsealed. SQLite keeps linking inline (it has one writer) and has the
-- view over ledger_balances alone, so every reader asks the same question on both stores.
-- dialect: postgres
ALTER TABLE ledger_entries ALTER COLUMN prev_hash DROP NOT NULL;
ALTER TABLE ledger_entries ALTER COLUMN hash DROP NOT NULL;
CREATE TABLE ledger_chain (
    pos       BIGINT PRIMARY KEY,
    entry_id  TEXT NOT NULL UNIQUE,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL UNIQUE
);
CREATE TRIGGER ledger_chain_append_only BEFORE UPDATE OR DELETE ON ledger_chain FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TABLE ledger_unsealed (
    entry_id TEXT PRIMARY KEY
);
CREATE VIEW ledger_balances_current AS
SELECT account, currency, SUM(balance)::BIGINT AS balance
FROM (
    SELECT account, currency, balance FROM ledger_balances
    UNION ALL
    SELECT l.account, l.currency, l.amount FROM ledger_unsealed u JOIN ledger_lines l ON l.entry_id = u.entry_id
) b
GROUP BY account, currency;
-- dialect: sqlite
CREATE VIEW ledger_balances_current AS SELECT account, currency, balance FROM ledger_balances;
