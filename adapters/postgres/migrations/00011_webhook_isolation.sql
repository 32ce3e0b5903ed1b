-- Webhook isolation: per-endpoint concurrency cap, rate limit, circuit
-- breaker and auto-disable (adapters/webhooks/breaker.go), and the index
-- the fair claim reads one endpoint's due deliveries with.

-- +goose Up
ALTER TABLE webhooks
    ADD COLUMN max_in_flight   INTEGER NOT NULL DEFAULT 4, -- concurrent requests, per replica
    ADD COLUMN rate_limit      DOUBLE PRECISION,           -- requests per second, per replica; NULL = none
    ADD COLUMN state           TEXT    NOT NULL DEFAULT 'active', -- active | paused | disabled
    ADD COLUMN failure_streak  INTEGER NOT NULL DEFAULT 0, -- consecutive failed attempts
    ADD COLUMN failing_since   BIGINT,                     -- unix ms of the streak's first failure
    ADD COLUMN pause_level     INTEGER NOT NULL DEFAULT 0, -- openings since the last success: the cooling doubles
    ADD COLUMN paused_until    BIGINT,                     -- unix ms: breaker open (or a probe's lease) until
    ADD COLUMN hold_until      BIGINT,                     -- unix ms: the endpoint's Retry-After
    ADD COLUMN disabled_reason TEXT,
    ADD COLUMN disabled_at     BIGINT;
CREATE INDEX webhook_deliveries_endpoint_due ON webhook_deliveries (webhook_id, next_attempt_at) WHERE state = 'pending';

-- +goose Down
DROP INDEX webhook_deliveries_endpoint_due;
ALTER TABLE webhooks DROP COLUMN max_in_flight, DROP COLUMN rate_limit, DROP COLUMN state,
    DROP COLUMN failure_streak, DROP COLUMN failing_since, DROP COLUMN pause_level, DROP COLUMN paused_until,
    DROP COLUMN hold_until, DROP COLUMN disabled_reason, DROP COLUMN disabled_at;
