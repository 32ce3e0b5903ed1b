-- The event log. position is the global log's order: SQLite has one
-- writer, so positions are assigned and committed in the same order.
-- AUTOINCREMENT never reuses a position, even after the last row is deleted.

-- +goose Up
CREATE TABLE events (
    position    INTEGER PRIMARY KEY AUTOINCREMENT,
    stream      TEXT    NOT NULL,
    version     INTEGER NOT NULL CHECK (version >= 1),
    id          TEXT    NOT NULL UNIQUE,
    type        TEXT    NOT NULL,
    data        TEXT,
    metadata    TEXT,
    recorded_at TEXT    NOT NULL, -- RFC 3339 with nanoseconds, UTC
    UNIQUE (stream, version)
) STRICT;

-- +goose Down
DROP TABLE events;
