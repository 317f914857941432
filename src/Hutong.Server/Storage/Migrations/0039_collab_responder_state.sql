-- Cooperation nodes, the answering party's state in the store (issue 19; docs/collab-nodes.md "Several instances of each
-- party"). Until now the answering party kept a bucket's protocol state in one process's memory, so it had to be one
-- instance. collab_peer_buckets: a bucket the driver began (begun_seq: the sequence number of its "begin", which names
-- this round of the bucket; a new "begin" starts it over). collab_peer_batches: the driver's "enc" batches of that round,
-- already masked with this party's key and truncated (vals: base64 of the packed values, item_count of them), per
-- segment in batch order, is_last on the stream's final batch. Any instance of the answering party sharing this store
-- (on PostgreSQL) answers any later message of the bucket from these rows. Rows go when the job ends.
-- collab_jobs.abort_sent: a failed job's "abort" (the reason) still to be told to the peer; TRUE for rows from before.
CREATE TABLE collab_peer_buckets (
    job_id    TEXT NOT NULL,
    bucket    INTEGER NOT NULL,
    begun_seq BIGINT NOT NULL,
    PRIMARY KEY (job_id, bucket)
);
CREATE TABLE collab_peer_batches (
    job_id      TEXT NOT NULL,
    bucket      INTEGER NOT NULL,
    segment     TEXT NOT NULL,
    batch_index INTEGER NOT NULL,
    is_last     BOOLEAN NOT NULL,
    item_count  INTEGER NOT NULL,
    begun_seq   BIGINT NOT NULL,
    vals        TEXT NOT NULL,
    PRIMARY KEY (job_id, bucket, segment, batch_index)
);
ALTER TABLE collab_jobs ADD COLUMN abort_sent BOOLEAN NOT NULL DEFAULT TRUE;
