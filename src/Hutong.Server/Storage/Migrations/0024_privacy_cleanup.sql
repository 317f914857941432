-- The wallet-payer cleanup job deletes lapsed payer handles and expired used OAuth states in bounded batches, oldest
-- first: each batch is an index range, not a scan of the table.
CREATE INDEX ix_wallet_payers_expires ON wallet_payers (expires_at);
CREATE INDEX ix_oauth_states_used_expires ON oauth_states_used (expires_at);
