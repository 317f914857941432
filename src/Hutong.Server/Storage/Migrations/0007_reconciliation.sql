-- 对账: one row per bill date and channel per run, with what was found (JSON) and what was repaired.
CREATE TABLE reconciliation_runs (
    id            TEXT PRIMARY KEY,
    bill_date     TEXT NOT NULL,
    channel       TEXT NOT NULL,
    wallet        TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('completed', 'failed')),
    bill_lines    INTEGER NOT NULL,
    matched       INTEGER NOT NULL,
    discrepancies INTEGER NOT NULL,
    repaired      INTEGER NOT NULL,
    error         TEXT,
    report        TEXT NOT NULL,
    started_at    BIGINT NOT NULL,
    finished_at   BIGINT NOT NULL
);
CREATE INDEX ix_reconciliation_runs_date ON reconciliation_runs (bill_date, channel);
