-- Vertical federated learning between two nodes (issue 20; docs/collab-vfl.md). collab_vfl_tables: a party's feature
-- tables (id column, named numeric features, and on the label side the 0/1 label), missing values imputed with the
-- column mean at upload (load_report says how many, per column, and which rows were skipped and why).
-- collab_vfl_rows: the rows in upload order (features as invariant-culture numbers, comma-separated: the loader's
-- output, so training reads exactly what the upload reported). collab_vfl_epochs: per vfl-train job and finished epoch,
-- the held-out metrics this party may see and this party's own checkpoint (its weights only; never the peer's, never
-- keys), so a killed node resumes from its last finished epoch. Each party's final model part is the job's result_json.
CREATE TABLE collab_vfl_tables (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    has_labels    BOOLEAN NOT NULL,
    feature_names TEXT NOT NULL,
    row_count     BIGINT NOT NULL,
    load_report   TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE TABLE collab_vfl_rows (
    table_id TEXT NOT NULL,
    row_no   INTEGER NOT NULL,
    user_id  TEXT NOT NULL,
    label    INTEGER,
    features TEXT NOT NULL,
    PRIMARY KEY (table_id, row_no)
);
CREATE TABLE collab_vfl_epochs (
    job_id          TEXT NOT NULL,
    epoch           INTEGER NOT NULL,
    seconds         DOUBLE PRECISION NOT NULL,
    auc             DOUBLE PRECISION NOT NULL,
    ks              DOUBLE PRECISION NOT NULL,
    log_loss        DOUBLE PRECISION NOT NULL,
    holdout_rows    INTEGER NOT NULL,
    positives       INTEGER NOT NULL,
    stopped         BOOLEAN NOT NULL,
    checkpoint_json TEXT NOT NULL,
    at              BIGINT NOT NULL,
    PRIMARY KEY (job_id, epoch)
);
