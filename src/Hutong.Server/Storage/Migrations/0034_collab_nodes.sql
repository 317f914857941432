-- Cooperation nodes (issue 19; docs/collab-nodes.md). collab_peers: the parties this node cooperates with, each pinned
-- by the SHA-256 of its certificate. collab_jobs: one row per job on this node (both parties keep their own copy of the
-- terms, identical to the byte: terms_sha256 is what an approval names); state follows CollabJobStates' transition
-- table; the flags record what the peer was told; last_seq is the highest message sequence number accepted from the
-- peer (a replay is refused), next_seq what this node reserved for its own messages; sealed_keys the job's secret
-- scalars (AES-GCM under Hutong:MasterKey); result_json the answer, only on a node entitled to it. collab_job_buckets:
-- the computing party's progress, one row per hash bucket, claimed with a lease (several instances share a job), its
-- result stored when done. collab_audit: every action on a job, by whom (operator, node, or the peer), append-only.
CREATE TABLE collab_peers (
    name        TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);
CREATE TABLE collab_jobs (
    id                     TEXT PRIMARY KEY,
    peer_name              TEXT NOT NULL REFERENCES collab_peers (name),
    side                   TEXT NOT NULL CHECK (side IN ('proposer', 'peer')),
    terms_json             TEXT NOT NULL,
    terms_sha256           TEXT NOT NULL,
    state                  TEXT NOT NULL CHECK (state IN ('proposed', 'approved', 'running', 'finished', 'failed', 'cancelled')),
    approved_here          BOOLEAN NOT NULL DEFAULT FALSE,
    approved_there         BOOLEAN NOT NULL DEFAULT FALSE,
    proposal_sent          BOOLEAN NOT NULL DEFAULT FALSE,
    decision_sent          BOOLEAN NOT NULL DEFAULT TRUE,
    finish_sent            BOOLEAN NOT NULL DEFAULT FALSE,
    cancelled_here         BOOLEAN NOT NULL DEFAULT FALSE,
    last_seq               BIGINT NOT NULL DEFAULT 0,
    next_seq               BIGINT NOT NULL DEFAULT 1,
    peer_items             BIGINT NOT NULL DEFAULT 0,
    sealed_keys            TEXT,
    decrypt_request_sha256 TEXT,
    result_json            TEXT,
    error                  TEXT,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL
);
CREATE INDEX ix_collab_jobs_state ON collab_jobs (state, updated_at);
CREATE TABLE collab_job_buckets (
    job_id       TEXT NOT NULL REFERENCES collab_jobs (id),
    bucket       INTEGER NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'done')),
    leased_by    TEXT,
    lease_until  BIGINT NOT NULL DEFAULT 0,
    result_json  TEXT,
    completed_at BIGINT,
    PRIMARY KEY (job_id, bucket)
);
CREATE TABLE collab_audit (
    id     {{identity}},
    job_id TEXT NOT NULL,
    at     BIGINT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX ix_collab_audit_job ON collab_audit (job_id, id);
