-- Files merchants upload to the hub (POST /v1/files), for now only dispute evidence images. content is the bytes as
-- uploaded (bounded by the wallets' image limit, 2 MiB); sha256 is their lowercase hex digest. A file belongs to one
-- merchant. file_wallet_images remembers the id a wallet account (channel) issued for the file when it was uploaded there
-- (WeChat media_id, Alipay image_id), so a retried answer to a dispute sends the same ids rather than new ones.
-- dialect: sqlite
CREATE TABLE files (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    purpose     TEXT NOT NULL CHECK (purpose IN ('dispute_evidence')),
    filename    TEXT NOT NULL,
    type        TEXT NOT NULL CHECK (type IN ('jpg', 'png', 'bmp')),
    size        BIGINT NOT NULL,
    sha256      TEXT NOT NULL,
    content     BLOB NOT NULL,
    created_at  BIGINT NOT NULL
);
-- dialect: postgres
CREATE TABLE files (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    purpose     TEXT NOT NULL CHECK (purpose IN ('dispute_evidence')),
    filename    TEXT NOT NULL,
    type        TEXT NOT NULL CHECK (type IN ('jpg', 'png', 'bmp')),
    size        BIGINT NOT NULL,
    sha256      TEXT NOT NULL,
    content     BYTEA NOT NULL,
    created_at  BIGINT NOT NULL
);
-- dialect: all
CREATE INDEX ix_files_merchant ON files (merchant_id, id);
CREATE TABLE file_wallet_images (
    file_id         TEXT NOT NULL REFERENCES files (id),
    channel         TEXT NOT NULL,
    wallet_image_id TEXT NOT NULL,
    uploaded_at     BIGINT NOT NULL,
    PRIMARY KEY (file_id, channel)
);
