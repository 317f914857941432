-- PostgreSQL: ledger entries are sealed into the hash chain in batches, after they commit, instead of each append
-- taking the chain's lock through its commit. That lock (and the hot balance rows, e.g. wallet_clearing:{wallet}, which
-- every capture updated) let a whole cluster commit one ledger append at a time, whatever the hardware
-- (docs/perf-hub-cpu.md).
--
-- Now an append inserts its lines, its entry (prev_hash and hash left NULL) and a copy of its lines in ledger_unsealed,
-- taking only shared locks on the accounts it touches. The sealer (one transaction per batch, under the chain's lock:
-- the `ledger-seal` job and `hutong ledger verify`) links the oldest unsealed entries after the last link in
-- ledger_chain, adds their lines to ledger_balances and deletes their unsealed rows, all in one commit. Entries written
-- before this migration keep their inline links; the first link in ledger_chain follows the last of them.
-- ledger_balances_current is what a balance is now: the sealed balance plus the unsealed lines (an index range of the
-- account's few unsealed rows). SQLite keeps linking inline (it has one writer) and has the view over ledger_balances
-- alone, so every reader asks the same question on both stores.
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
-- balances_kept: the entry's lines are in ledger_balances already (see the trigger below), so neither the view nor the
-- sealer adds them.
CREATE TABLE ledger_unsealed (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entry_id      TEXT NOT NULL,
    account       TEXT NOT NULL,
    currency      TEXT NOT NULL,
    amount        BIGINT NOT NULL,
    balances_kept BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX ix_ledger_unsealed_entry ON ledger_unsealed (entry_id);
CREATE INDEX ix_ledger_unsealed_account ON ledger_unsealed (account, currency);
-- A rolling upgrade: a hub of the previous version still links its entries inline (after the newest entry that has a
-- link, which is no longer the chain's end) and adds its lines to ledger_balances itself. Its entry is taken into the
-- batch chain like the others — its inline link dropped — flagged so its lines are not added again. So the inline
-- links end at this migration, and both versions' entries end up in one chain with exact balances.
CREATE FUNCTION ledger_entry_unlinked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.hash IS NOT NULL THEN
        NEW.prev_hash := NULL;
        NEW.hash := NULL;
        INSERT INTO ledger_unsealed (entry_id, account, currency, amount, balances_kept)
        SELECT NEW.id, account, currency, amount, TRUE FROM ledger_lines WHERE entry_id = NEW.id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_entry_unlinked BEFORE INSERT ON ledger_entries FOR EACH ROW EXECUTE FUNCTION ledger_entry_unlinked();
CREATE VIEW ledger_balances_current AS
SELECT account, currency, SUM(balance)::BIGINT AS balance
FROM (
    SELECT account, currency, balance FROM ledger_balances
    UNION ALL
    SELECT account, currency, amount FROM ledger_unsealed WHERE NOT balances_kept
) b
GROUP BY account, currency;
-- dialect: sqlite
CREATE VIEW ledger_balances_current AS SELECT account, currency, balance FROM ledger_balances;
