-- Livestream hosts on the hosting service: contracts (guarantee, share, or the greater of both; six months), and
-- monthly statements with the tax withheld, each posted to the ledger once.
CREATE TABLE hosts (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    name        TEXT NOT NULL,
    live_room   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (merchant_id, live_room)
);

CREATE TABLE host_contracts (
    id                 TEXT PRIMARY KEY,
    merchant_id        TEXT NOT NULL REFERENCES merchants (id),
    host_id            TEXT NOT NULL REFERENCES hosts (id),
    start_date         TEXT NOT NULL,
    model              TEXT NOT NULL CHECK (model IN ('guaranteed_minimum', 'revenue_share', 'greater_of')),
    monthly_guarantee  BIGINT NOT NULL CHECK (monthly_guarantee >= 0),
    share_basis_points INTEGER NOT NULL CHECK (share_basis_points BETWEEN 0 AND 10000),
    currency           TEXT NOT NULL,
    exited_on          TEXT,
    created_at         BIGINT NOT NULL
);
CREATE INDEX ix_host_contracts_host ON host_contracts (host_id);

CREATE TABLE host_statements (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    contract_id TEXT NOT NULL REFERENCES host_contracts (id),
    month       TEXT NOT NULL,
    body        TEXT NOT NULL,
    payable     BIGINT NOT NULL,
    tax         BIGINT NOT NULL,
    net         BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    paid_at     BIGINT,
    UNIQUE (contract_id, month)
);
