-- The console (issue 15): its users, their server-side sessions, invites and the audit log of every console action.
-- A user with merchant_id NULL is an operator (hub-wide); otherwise role is one of the merchant roles. A session row is
-- looked up on every request (token stored only as its SHA-256), so a locked or removed user loses access at once.
-- totp_secret is sealed with Hutong:MasterKey when one is set (SecretBox). Also the indexes the payments search and a
-- payment's timeline read through (keyset pages on (created_at, id); lookups by buyer, ledger reference, notification).
CREATE TABLE console_users (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    merchant_id    TEXT REFERENCES merchants (id),
    role           TEXT NOT NULL CHECK (role IN ('operator', 'owner', 'developer', 'support', 'finance')),
    password_hash  TEXT NOT NULL,
    totp_secret    TEXT,
    totp_last_step BIGINT,
    status         TEXT NOT NULL CHECK (status IN ('active', 'locked', 'removed')),
    failed_logins  BIGINT NOT NULL DEFAULT 0,
    throttled_until BIGINT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    CHECK ((merchant_id IS NULL) = (role = 'operator'))
);
CREATE INDEX ix_console_users_merchant ON console_users (merchant_id, email);

CREATE TABLE console_sessions (
    token_hash   TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES console_users (id),
    stage        TEXT NOT NULL CHECK (stage IN ('totp', 'active')),
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX ix_console_sessions_user ON console_sessions (user_id);

CREATE TABLE console_invites (
    token_hash  TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    email       TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('owner', 'developer', 'support', 'finance')),
    invited_by  TEXT NOT NULL REFERENCES console_users (id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX ix_console_invites_merchant ON console_invites (merchant_id, created_at);

CREATE TABLE console_audit (
    seq         {{identity}},
    at          BIGINT NOT NULL,
    user_id     TEXT,
    email       TEXT NOT NULL,
    merchant_id TEXT,
    action      TEXT NOT NULL,
    target      TEXT,
    detail      TEXT,
    ip          TEXT
);
CREATE INDEX ix_console_audit_merchant ON console_audit (merchant_id, seq);

CREATE INDEX ix_payments_merchant_created ON payments (merchant_id, created_at, id);
CREATE INDEX ix_payments_created ON payments (created_at, id);
CREATE INDEX ix_payments_payer ON payments (payer_id) WHERE payer_id IS NOT NULL;
CREATE INDEX ix_payments_merchant_amount ON payments (merchant_id, amount, created_at);
CREATE INDEX ix_ledger_entries_reference ON ledger_entries (reference);
CREATE INDEX ix_wallet_notifications_out_trade_no ON wallet_notifications (out_trade_no) WHERE out_trade_no IS NOT NULL;
