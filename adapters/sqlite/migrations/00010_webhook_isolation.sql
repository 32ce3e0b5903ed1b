-- Webhook isolation: per-endpoint concurrency cap, rate limit, circuit
-- breaker and auto-disable (adapters/webhooks/breaker.go), and the index
-- the fair claim reads one endpoint's due deliveries with.

-- +goose Up
ALTER TABLE webhooks ADD COLUMN max_in_flight INTEGER NOT NULL DEFAULT 4; -- concurrent requests, per replica
ALTER TABLE webhooks ADD COLUMN rate_limit REAL;                          -- requests per second, per replica; NULL = none
ALTER TABLE webhooks ADD COLUMN state TEXT NOT NULL DEFAULT 'active';     -- active | paused | disabled
ALTER TABLE webhooks ADD COLUMN failure_streak INTEGER NOT NULL DEFAULT 0; -- consecutive failed attempts
ALTER TABLE webhooks ADD COLUMN failing_since BIGINT;                     -- unix ms of the streak's first failure
ALTER TABLE webhooks ADD COLUMN pause_level INTEGER NOT NULL DEFAULT 0;   -- openings since the last success
ALTER TABLE webhooks ADD COLUMN paused_until BIGINT;                      -- unix ms: breaker open (or a probe's lease) until
ALTER TABLE webhooks ADD COLUMN hold_until BIGINT;                        -- unix ms: the endpoint's Retry-After
ALTER TABLE webhooks ADD COLUMN disabled_reason TEXT;
ALTER TABLE webhooks ADD COLUMN disabled_at BIGINT;
CREATE INDEX webhook_deliveries_endpoint_due ON webhook_deliveries (webhook_id, next_attempt_at) WHERE state = 'pending';

-- +goose Down
DROP INDEX webhook_deliveries_endpoint_due;
ALTER TABLE webhooks DROP COLUMN disabled_at;
ALTER TABLE webhooks DROP COLUMN disabled_reason;
ALTER TABLE webhooks DROP COLUMN hold_until;
ALTER TABLE webhooks DROP COLUMN paused_until;
ALTER TABLE webhooks DROP COLUMN pause_level;
ALTER TABLE webhooks DROP COLUMN failing_since;
ALTER TABLE webhooks DROP COLUMN failure_streak;
ALTER TABLE webhooks DROP COLUMN state;
ALTER TABLE webhooks DROP COLUMN rate_limit;
ALTER TABLE webhooks DROP COLUMN max_in_flight;
