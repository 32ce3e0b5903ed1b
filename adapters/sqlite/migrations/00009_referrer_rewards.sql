-- Reward totals of the referrals projection, for the leaderboard's
-- total_reward_value: per appspace, window (days 0 = all time; 7, 30 and
-- 90 as of the appspace's anchor day, as in rm_referrer_windows) and
-- referrer, one row per format of the referrer-side reward values of the
-- completed referrals: the text before and after the number and its
-- decimals (-1 with empty affixes: values that cannot be summed). n counts
-- the values, units sums them in units of 10^-decimals. Rows that fall to
-- 0 stay.

-- +goose Up
CREATE TABLE rm_referrer_rewards (
    appspace_id TEXT   NOT NULL,
    days        BIGINT NOT NULL,
    referrer_id TEXT   NOT NULL,
    prefix      TEXT   NOT NULL,
    suffix      TEXT   NOT NULL,
    decimals    BIGINT NOT NULL,
    n           BIGINT NOT NULL,
    units       BIGINT NOT NULL,
    PRIMARY KEY (appspace_id, days, referrer_id, prefix, suffix, decimals)
) WITHOUT ROWID;

-- The values are parsed in Go, so the read models replay from the log to
-- fill the table: empty them and reset the projection's checkpoint.
DELETE FROM rm_referrals;
DELETE FROM rm_referrers;
DELETE FROM rm_referral_days;
DELETE FROM rm_referrer_windows;
DELETE FROM projection_checkpoints WHERE name = 'referrals';

-- +goose Down
DROP TABLE rm_referrer_rewards;
