-- Webhook deliveries: the fair claim reads due deliveries per endpoint
-- (webhook_deliveries_endpoint_due, 00011), so the older index of every
-- endpoint's due deliveries by time is only written, never read: one
-- index less to update on every dispatch, claim and recorded attempt.

-- +goose Up
DROP INDEX webhook_deliveries_due;

-- +goose Down
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
