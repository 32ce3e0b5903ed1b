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
ALTER TABLE rm_referrals
    ADD COLUMN referrer_ip             TEXT,
    ADD COLUMN referrer_device_id      TEXT,
    ADD COLUMN reward_available_at     BIGINT,
    ADD COLUMN reward_reversal         TEXT,
    ADD COLUMN referee_reward_reversal TEXT,
    ADD COLUMN review_state            TEXT, -- NULL | open | approved | rejected
    ADD COLUMN review_flagged_at       BIGINT,
    ADD COLUMN review_resolved_at      BIGINT,
    ADD COLUMN review                  TEXT,
    ADD COLUMN voided_at               BIGINT,
    ADD COLUMN void_reason             TEXT;
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
    appspace_id TEXT   COLLATE "C" NOT NULL,
    created_day BIGINT NOT NULL,
    status      TEXT   NOT NULL,
    settled_day BIGINT NOT NULL,
    voided_day  BIGINT NOT NULL,
    n           BIGINT NOT NULL,
    PRIMARY KEY (appspace_id, created_day, status, settled_day, voided_day)
);

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
    appspace_id TEXT   COLLATE "C" NOT NULL,
    created_day BIGINT NOT NULL,
    status      TEXT   NOT NULL,
    settled_day BIGINT NOT NULL,
    n           BIGINT NOT NULL,
    PRIMARY KEY (appspace_id, created_day, status, settled_day)
);
-- A rebuild may have given the indexes its own names (projections/rebuild_schema.go).
DROP INDEX IF EXISTS rm_referrals_voided;
DROP INDEX IF EXISTS rm_referrals_voided_rebuild;
DROP INDEX IF EXISTS rm_referrals_reviewed;
DROP INDEX IF EXISTS rm_referrals_reviewed_rebuild;
DROP INDEX IF EXISTS rm_referrals_reviews;
DROP INDEX IF EXISTS rm_referrals_reviews_rebuild;
ALTER TABLE rm_referrals
    DROP COLUMN referrer_ip, DROP COLUMN referrer_device_id, DROP COLUMN reward_available_at,
    DROP COLUMN reward_reversal, DROP COLUMN referee_reward_reversal, DROP COLUMN review_state,
    DROP COLUMN review_flagged_at, DROP COLUMN review_resolved_at, DROP COLUMN review,
    DROP COLUMN voided_at, DROP COLUMN void_reason;
DELETE FROM rm_referrals;
DELETE FROM rm_referrers;
DELETE FROM rm_referrer_windows;
DELETE FROM rm_referrer_rewards;
DELETE FROM projection_checkpoints WHERE name = 'referrals';
