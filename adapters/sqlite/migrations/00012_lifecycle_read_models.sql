-- The reward lifecycle in the referrals projection's rows, so list items,
-- the CSV export and the reviews queue show what GET /referral/{code}
-- shows: the referrer's create ip and device id (the fraud rules' inputs;
-- NULL when empty), the hold's end, each side's reversal (JSON
-- {"reason", "clawback", "reversed_at"}), the review (its state, when it
-- was flagged and resolved, and JSON {"reasons", "note", "holds_rewards"})
-- and the void. rm_referral_days adds the UTC day of the void (-1: not
-- voided), so stats as of a moment before a void count the referral as it
-- was then, and the series counts voids per day.

-- +goose Up
ALTER TABLE rm_referrals ADD COLUMN referrer_ip TEXT;
ALTER TABLE rm_referrals ADD COLUMN referrer_device_id TEXT;
ALTER TABLE rm_referrals ADD COLUMN reward_available_at BIGINT;
ALTER TABLE rm_referrals ADD COLUMN reward_reversal TEXT;
ALTER TABLE rm_referrals ADD COLUMN referee_reward_reversal TEXT;
ALTER TABLE rm_referrals ADD COLUMN review_state TEXT; -- NULL | open | approved | rejected
ALTER TABLE rm_referrals ADD COLUMN review_flagged_at BIGINT;
ALTER TABLE rm_referrals ADD COLUMN review_resolved_at BIGINT;
ALTER TABLE rm_referrals ADD COLUMN review TEXT;
ALTER TABLE rm_referrals ADD COLUMN voided_at BIGINT;
ALTER TABLE rm_referrals ADD COLUMN void_reason TEXT;
-- GET /v1/api/reviews: one state's reviews, oldest flagged first.
CREATE INDEX rm_referrals_reviews ON rm_referrals (appspace_id, review_state, review_flagged_at, referral_code)
    WHERE review_state IS NOT NULL;
-- Stats' under_review, now or as of a moment (covering).
CREATE INDEX rm_referrals_reviewed ON rm_referrals (appspace_id, created_at, review_flagged_at, review_resolved_at)
    WHERE review_flagged_at IS NOT NULL;
-- Stats as of a moment: the referrals voided on that moment's day.
CREATE INDEX rm_referrals_voided ON rm_referrals (appspace_id, voided_at, created_at, settled_at)
    WHERE voided_at IS NOT NULL;

DROP TABLE rm_referral_days;
CREATE TABLE rm_referral_days (
    appspace_id TEXT   NOT NULL,
    created_day BIGINT NOT NULL,
    status      TEXT   NOT NULL,
    settled_day BIGINT NOT NULL,
    voided_day  BIGINT NOT NULL,
    n           BIGINT NOT NULL,
    PRIMARY KEY (appspace_id, created_day, status, settled_day, voided_day)
) WITHOUT ROWID;

-- Lifecycle events already in the log are replayed into the new columns:
-- empty the read models and reset the projection's checkpoint.
DELETE FROM rm_referrals;
DELETE FROM rm_referrers;
DELETE FROM rm_referrer_windows;
DELETE FROM rm_referrer_rewards;
DELETE FROM projection_quarantine WHERE projection = 'referrals';
DELETE FROM projection_checkpoints WHERE name = 'referrals';

-- +goose Down
DROP TABLE rm_referral_days;
CREATE TABLE rm_referral_days (
    appspace_id TEXT   NOT NULL,
    created_day BIGINT NOT NULL,
    status      TEXT   NOT NULL,
    settled_day BIGINT NOT NULL,
    n           BIGINT NOT NULL,
    PRIMARY KEY (appspace_id, created_day, status, settled_day)
) WITHOUT ROWID;
-- A rebuild may have given the indexes its own names (projections/rebuild_schema.go).
DROP INDEX IF EXISTS rm_referrals_voided;
DROP INDEX IF EXISTS rm_referrals_voided_rebuild;
DROP INDEX IF EXISTS rm_referrals_reviewed;
DROP INDEX IF EXISTS rm_referrals_reviewed_rebuild;
DROP INDEX IF EXISTS rm_referrals_reviews;
DROP INDEX IF EXISTS rm_referrals_reviews_rebuild;
ALTER TABLE rm_referrals DROP COLUMN referrer_ip;
ALTER TABLE rm_referrals DROP COLUMN referrer_device_id;
ALTER TABLE rm_referrals DROP COLUMN reward_available_at;
ALTER TABLE rm_referrals DROP COLUMN reward_reversal;
ALTER TABLE rm_referrals DROP COLUMN referee_reward_reversal;
ALTER TABLE rm_referrals DROP COLUMN review_state;
ALTER TABLE rm_referrals DROP COLUMN review_flagged_at;
ALTER TABLE rm_referrals DROP COLUMN review_resolved_at;
ALTER TABLE rm_referrals DROP COLUMN review;
ALTER TABLE rm_referrals DROP COLUMN voided_at;
ALTER TABLE rm_referrals DROP COLUMN void_reason;
DELETE FROM rm_referrals;
DELETE FROM rm_referrers;
DELETE FROM rm_referrer_windows;
DELETE FROM rm_referrer_rewards;
DELETE FROM projection_checkpoints WHERE name = 'referrals';
