-- Batch scoring with a vfl-train job's model (vfl-score jobs, issue 20; docs/collab-vfl.md "Batch scoring between
-- nodes"). Only the label side (the e-commerce side, which drives the job) stores rows here: per scored user of the
-- intersection, its row in the aligned order (ids sorted ordinally), its id and σ(u_G + u_H). The ad side keeps only
-- counts in the job's result_json. Read in pages by row_no (GET /admin/collab/jobs/{id}/scores).
CREATE TABLE collab_vfl_scores (
    job_id      TEXT NOT NULL,
    row_no      INTEGER NOT NULL,
    user_id     TEXT NOT NULL,
    probability DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (job_id, row_no)
);
