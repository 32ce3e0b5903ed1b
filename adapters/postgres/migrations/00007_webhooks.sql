-- Webhooks: endpoints, one delivery row per (event, webhook), every attempt,
-- and the Watermill topic between the forwarder and the dispatcher (the
-- tables of watermill-sql's DefaultPostgreSQLSchema and
-- DefaultPostgreSQLOffsetsAdapter for the topic webhook_events).

-- +goose Up
CREATE TABLE webhooks (
    id                     TEXT    PRIMARY KEY,
    appspace_id            TEXT    NOT NULL,
    name                   TEXT    NOT NULL,
    url                    TEXT    NOT NULL,
    events                 TEXT    NOT NULL,  -- JSON array of subscribed event types
    active                 BOOLEAN NOT NULL,
    active_since           BIGINT,            -- unix ms; events recorded earlier are not queued
    secret_sealed          TEXT    NOT NULL,  -- AES-GCM, see adapters/webhooks/secrets.go
    previous_secret_sealed TEXT,              -- still signs until previous_secret_until
    previous_secret_until  BIGINT,
    created_at             BIGINT  NOT NULL,
    updated_at             BIGINT  NOT NULL,
    deleted_at             BIGINT             -- deleted webhooks keep their delivery log
);
CREATE INDEX webhooks_appspace ON webhooks (appspace_id, created_at);

-- One row per (event, webhook): the dispatcher inserts with ON CONFLICT DO
-- NOTHING, so a repeated message adds nothing.
CREATE TABLE webhook_deliveries (
    id              TEXT    PRIMARY KEY,
    appspace_id     TEXT    NOT NULL,
    webhook_id      TEXT    NOT NULL REFERENCES webhooks (id),
    event_id        TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    referral_code   TEXT,
    body            TEXT    NOT NULL,  -- the exact request body, built once
    state           TEXT    NOT NULL,  -- pending | succeeded | failed
    attempt_count   INTEGER NOT NULL DEFAULT 0,
    schedule_from   INTEGER NOT NULL DEFAULT 0, -- attempt_count when the retry schedule (re)started
    max_attempts    INTEGER NOT NULL,
    next_attempt_at BIGINT,            -- unix ms; a claimed delivery's lease end
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    UNIQUE (event_id, webhook_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, created_at);
CREATE INDEX webhook_deliveries_referral ON webhook_deliveries (appspace_id, referral_code);

CREATE TABLE webhook_attempts (
    delivery_id      TEXT    NOT NULL REFERENCES webhook_deliveries (id),
    attempt          INTEGER NOT NULL,
    attempted_at     BIGINT  NOT NULL,
    status_code      INTEGER,
    response_time_ms BIGINT  NOT NULL,
    success          BOOLEAN NOT NULL,
    error            TEXT,
    response_body    TEXT,  -- at most 4 KiB
    PRIMARY KEY (delivery_id, attempt)
);

CREATE TABLE watermill_webhook_events (
    "offset"       BIGSERIAL,
    uuid           VARCHAR(36) NOT NULL,
    created_at     TIMESTAMP   NOT NULL DEFAULT CURRENT_TIMESTAMP,
    payload        JSON        DEFAULT NULL,
    metadata       JSON        DEFAULT NULL,
    transaction_id xid8        NOT NULL,
    PRIMARY KEY (transaction_id, "offset")
);
CREATE TABLE watermill_offsets_webhook_events (
    consumer_group                VARCHAR(255) NOT NULL,
    offset_acked                  BIGINT,
    last_processed_transaction_id xid8         NOT NULL,
    PRIMARY KEY (consumer_group)
);

-- +goose Down
DROP TABLE watermill_offsets_webhook_events;
DROP TABLE watermill_webhook_events;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
