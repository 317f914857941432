-- Channels: the accounts a wallet is reached through (direct, or a licensed acquirer), with encrypted credentials;
-- routes: per merchant and wallet, which channels to use, in order. Each attempt remembers its channel.
ALTER TABLE payment_attempts ADD COLUMN channel TEXT;

CREATE TABLE channels (
    id                TEXT PRIMARY KEY,
    wallet            TEXT NOT NULL,
    mode              TEXT NOT NULL CHECK (mode IN ('direct', 'acquirer')),
    config_ciphertext TEXT NOT NULL,
    created_at        BIGINT NOT NULL
);

CREATE TABLE routes (
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    wallet      TEXT NOT NULL,
    rules       TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, wallet)
);
