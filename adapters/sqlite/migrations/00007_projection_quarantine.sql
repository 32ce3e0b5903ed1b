-- Events a projection (or the webhook pipeline) could not apply. The runner
-- records the event here and moves its checkpoint past it in the same
-- transaction, so one odd event never stops the projection for every other
-- referral and appspace; `projections retry-quarantined` applies them again
-- after a fix and deletes the rows that now apply.

-- +goose Up
CREATE TABLE projection_quarantine (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT, -- the order they were met: log order
    projection     TEXT   NOT NULL,
    position       BIGINT NOT NULL, -- the event's global log position
    event_id       TEXT   NOT NULL,
    stream         TEXT   NOT NULL,
    event_type     TEXT   NOT NULL,
    error          TEXT   NOT NULL, -- the last error applying it
    quarantined_at BIGINT NOT NULL, -- unix ms, first time
    retried_at     BIGINT,          -- unix ms, last retry
    UNIQUE (projection, event_id)
);

-- +goose Down
DROP TABLE projection_quarantine;
