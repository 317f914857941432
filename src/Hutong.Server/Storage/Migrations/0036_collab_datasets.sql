-- Cooperation data sets (issue 19): a party's conversions or exposures, uploaded (CSV, Parquet) or built from this hub's
-- own succeeded payments, read by the job engine bucket by bucket (ICollabDataSets). Only normalised ids are stored
-- (the id rule, with its version, is recorded per data set); raw ids never reach the store. A data set is written while
-- 'loading' (invisible to jobs and lists of ready sets) and becomes 'ready' in one conditional update, so either the
-- whole set is there or none of it; a refused upload deletes what it wrote. Each row keeps its 32-bit bucket hash h
-- (CollabBuckets.HashOf) and bucket = h mod stored_buckets, the first column of the primary key after the data set, so
-- one bucket is one index range. No foreign key from rows to data sets: rows are deleted in bounded batches first.
CREATE TABLE collab_datasets (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('conversions', 'exposures')),
    id_rule        TEXT NOT NULL CHECK (id_rule IN ('phone', 'device', 'opaque')),
    id_rule_name   TEXT NOT NULL,
    currency       TEXT NOT NULL,
    source         TEXT NOT NULL CHECK (source IN ('csv', 'parquet', 'payments')),
    state          TEXT NOT NULL CHECK (state IN ('loading', 'ready', 'deleting')),
    stored_buckets INTEGER NOT NULL,
    row_count      BIGINT NOT NULL DEFAULT 0,
    input_rows     BIGINT NOT NULL DEFAULT 0,
    merged_rows    BIGINT NOT NULL DEFAULT 0,
    value_total    BIGINT NOT NULL DEFAULT 0,
    input_bytes    BIGINT NOT NULL DEFAULT 0,
    options        TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    ready_at       BIGINT
);
CREATE INDEX ix_collab_datasets_state ON collab_datasets (state, updated_at);
-- dialect: sqlite
CREATE TABLE collab_dataset_rows (
    dataset_id TEXT NOT NULL,
    bucket     INTEGER NOT NULL,
    norm_id    TEXT NOT NULL,
    campaign   TEXT NOT NULL DEFAULT '',
    h          BIGINT NOT NULL,
    value      BIGINT NOT NULL,
    time       BIGINT,
    grp        TEXT NOT NULL CHECK (grp IN ('none', 'test', 'control')),
    PRIMARY KEY (dataset_id, bucket, norm_id, campaign)
) WITHOUT ROWID;
-- dialect: postgres
CREATE TABLE collab_dataset_rows (
    dataset_id TEXT NOT NULL,
    bucket     INTEGER NOT NULL,
    norm_id    TEXT COLLATE "C" NOT NULL,
    campaign   TEXT COLLATE "C" NOT NULL DEFAULT '',
    h          BIGINT NOT NULL,
    value      BIGINT NOT NULL,
    time       BIGINT,
    grp        TEXT NOT NULL CHECK (grp IN ('none', 'test', 'control')),
    PRIMARY KEY (dataset_id, bucket, norm_id, campaign)
);
-- dialect: all
