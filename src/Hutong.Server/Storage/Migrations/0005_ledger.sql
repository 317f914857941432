-- The double-entry ledger. An entry is written as its lines first and its header last; the database refuses a header
-- whose lines do not sum to zero per currency, any line added to a sealed entry, and any UPDATE or DELETE. Entries are
-- hash-chained (hash = SHA-256 of the previous hash and the entry), so an edit made around the triggers is found by
-- `hutong ledger verify`. Amounts are signed minor units: debit positive, credit negative.
CREATE TABLE ledger_entries (
    seq         {{identity}},
    id          TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    reference   TEXT NOT NULL,
    merchant_id TEXT,
    created_at  BIGINT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL UNIQUE
);
-- One posting per business event: a replayed event cannot post twice.
CREATE UNIQUE INDEX ux_ledger_entries_event ON ledger_entries (kind, reference);

CREATE TABLE ledger_lines (
    id       {{identity}},
    entry_id TEXT NOT NULL,
    account  TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount   BIGINT NOT NULL CHECK (amount <> 0)
);
CREATE INDEX ix_ledger_lines_entry ON ledger_lines (entry_id);
CREATE INDEX ix_ledger_lines_account ON ledger_lines (account, currency);

-- Merchant refunds that have succeeded, so a payment can say how much of it was returned.
ALTER TABLE payments ADD COLUMN amount_refunded BIGINT NOT NULL DEFAULT 0;

-- dialect: sqlite
CREATE TRIGGER ledger_entry_balanced BEFORE INSERT ON ledger_entries
WHEN (SELECT COUNT(*) FROM ledger_lines WHERE entry_id = NEW.id) < 2
  OR EXISTS (SELECT 1 FROM ledger_lines WHERE entry_id = NEW.id GROUP BY currency HAVING SUM(amount) <> 0)
BEGIN SELECT RAISE(ABORT, 'ledger entry does not balance per currency'); END;
CREATE TRIGGER ledger_lines_sealed BEFORE INSERT ON ledger_lines
WHEN EXISTS (SELECT 1 FROM ledger_entries WHERE id = NEW.entry_id)
BEGIN SELECT RAISE(ABORT, 'ledger entry is sealed'); END;
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER ledger_lines_no_update BEFORE UPDATE ON ledger_lines BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER ledger_lines_no_delete BEFORE DELETE ON ledger_lines BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
-- dialect: postgres
CREATE FUNCTION ledger_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT COUNT(*) FROM ledger_lines WHERE entry_id = NEW.id) < 2
       OR EXISTS (SELECT 1 FROM ledger_lines WHERE entry_id = NEW.id GROUP BY currency HAVING SUM(amount) <> 0) THEN
        RAISE EXCEPTION 'ledger entry % does not balance per currency', NEW.id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_entry_balanced BEFORE INSERT ON ledger_entries FOR EACH ROW EXECUTE FUNCTION ledger_entry_balanced();
CREATE FUNCTION ledger_lines_sealed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM ledger_entries WHERE id = NEW.entry_id) THEN
        RAISE EXCEPTION 'ledger entry % is sealed', NEW.entry_id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_lines_sealed BEFORE INSERT ON ledger_lines FOR EACH ROW EXECUTE FUNCTION ledger_lines_sealed();
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only';
END $$;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_lines_append_only BEFORE UPDATE OR DELETE ON ledger_lines FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
-- dialect: all
