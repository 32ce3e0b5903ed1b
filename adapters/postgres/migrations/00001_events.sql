-- The event log. position is unique but is taken from a sequence at insert
-- and becomes visible at commit, so positions do not commit in order.
-- Readers of the global log therefore order by (transaction_id, position)
-- and read only rows of transactions older than every transaction still
-- running (pg_snapshot_xmin), the technique watermill-sql uses: no reader
-- ever skips an event that commits late.
-- data and metadata are json, not jsonb, to keep the exact bytes appended.

-- +goose Up
CREATE TABLE events (
    position       bigserial   PRIMARY KEY,
    transaction_id xid8        NOT NULL DEFAULT pg_current_xact_id(),
    stream         text        NOT NULL,
    version        bigint      NOT NULL CHECK (version >= 1),
    id             text        NOT NULL,
    type           text        NOT NULL,
    data           json,
    metadata       json,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_id_key UNIQUE (id),
    CONSTRAINT events_stream_version_key UNIQUE (stream, version)
);

CREATE INDEX events_transaction_id_position_idx ON events (transaction_id, position);

-- +goose Down
DROP TABLE events;
