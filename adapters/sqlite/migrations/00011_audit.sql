-- The verifiable ledger: per appspace, a Merkle tree over its events
-- (RFC 6962 hashing). audit_trees holds each tree's sealed size and, once
-- the stored events stop matching it, why; audit_leaves the leaf bytes
-- each event was sealed as (entry bundles serve them, and a tamper report
-- compares them with the event as stored now); audit_hashes the tree's
-- stored hashes (tlog's numbering: every complete subtree, once);
-- audit_checkpoints every signed checkpoint, kept as history.

-- +goose Up
CREATE TABLE audit_trees (
    appspace_id TEXT   PRIMARY KEY,
    size        BIGINT NOT NULL DEFAULT 0,
    tampered    TEXT,
    tampered_at BIGINT
);

CREATE TABLE audit_leaves (
    appspace_id TEXT   NOT NULL,
    leaf_index  BIGINT NOT NULL,
    event_id    TEXT   NOT NULL,
    position    BIGINT NOT NULL,
    leaf        BLOB   NOT NULL,
    PRIMARY KEY (appspace_id, leaf_index)
);
CREATE INDEX audit_leaves_event_idx ON audit_leaves (appspace_id, event_id);

CREATE TABLE audit_hashes (
    appspace_id TEXT   NOT NULL,
    hash_index  BIGINT NOT NULL,
    hash        BLOB   NOT NULL,
    PRIMARY KEY (appspace_id, hash_index)
);

CREATE TABLE audit_checkpoints (
    appspace_id TEXT   NOT NULL,
    tree_size   BIGINT NOT NULL,
    root_hash   BLOB   NOT NULL,
    note        TEXT   NOT NULL,
    created_at  BIGINT NOT NULL, -- unix milliseconds
    PRIMARY KEY (appspace_id, tree_size)
);

-- +goose Down
DROP TABLE audit_checkpoints;
DROP TABLE audit_hashes;
DROP TABLE audit_leaves;
DROP TABLE audit_trees;
