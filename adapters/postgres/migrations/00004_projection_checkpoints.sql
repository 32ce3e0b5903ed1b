-- Where each projection has read the global log to. The projection runner
-- updates a checkpoint in the same transaction as the read models it
-- writes, so a crash loses or repeats nothing.

-- +goose Up
CREATE TABLE projection_checkpoints (
    name          TEXT   PRIMARY KEY,
    position      BIGINT NOT NULL DEFAULT 0, -- last event applied (a global log cursor)
    applied       BIGINT NOT NULL DEFAULT 0, -- events applied since position 0
    last_event_at BIGINT,                    -- recorded_at of that event, unix ms
    updated_at    BIGINT NOT NULL            -- unix ms
);

-- +goose Down
DROP TABLE projection_checkpoints;
