-- In-app flows (WeChat JSAPI, mini-program, H5, App). An attempt remembers its flow (payment_attempts.flow, added by
-- 0018; NULL: the Native QR) and the payer reference its order was placed with (JSAPI / mini-program: the openid; H5: the phone's IP), so a re-send after an
-- unanswered call is the very same order. The openid stays here: it goes only to the wallet.
ALTER TABLE payment_attempts ADD COLUMN payer_ref TEXT;

-- A buyer known to a wallet through its OAuth (snsapi_base, jscode2session): the browser session (its hash) or the
-- opaque handle a mini-program back end holds stands for the openid, which is never shown outside the hub.
CREATE TABLE wallet_payers (
    handle TEXT PRIMARY KEY,
    wallet TEXT NOT NULL,
    payer_ref TEXT NOT NULL,
    session TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX ix_wallet_payers_session ON wallet_payers (session, wallet);

-- OAuth state values already used: the state is signed and expires on its own; this makes it single use.
CREATE TABLE oauth_states_used (
    id TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
