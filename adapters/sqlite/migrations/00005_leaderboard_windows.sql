-- The windowed leaderboards (7d, 30d, 90d) of the referrals projection.
-- A window of N days, as of an appspace's anchor day, holds the referrals
-- created on the UTC days anchor - N .. anchor (N whole days and the
-- anchor day). The anchor is the latest UTC day any referral of the
-- appspace was created on: MAX(created_day) of rm_referral_days. It is a
-- fact of the log, so a replay builds the same rows; a query on a later
-- day corrects the rows by the days that fell out (projections.Leaderboard).

-- +goose Up
-- One row per appspace, window length and referrer with a referral in the
-- window, in its current status. Rows whose total falls to 0 are deleted.
CREATE TABLE rm_referrer_windows (
    appspace_id TEXT   NOT NULL,
    days        BIGINT NOT NULL, -- 7, 30 or 90
    referrer_id TEXT   NOT NULL,
    total       BIGINT NOT NULL,
    completed   BIGINT NOT NULL,
    pending     BIGINT NOT NULL,
    expired     BIGINT NOT NULL,
    PRIMARY KEY (appspace_id, days, referrer_id)
) WITHOUT ROWID;
CREATE INDEX rm_referrer_windows_rank ON rm_referrer_windows (appspace_id, days, completed DESC, total DESC, referrer_id);

-- The windows of the read models already there.
INSERT INTO rm_referrer_windows (appspace_id, days, referrer_id, total, completed, pending, expired)
SELECT r.appspace_id, p.days, r.referrer_id, COUNT(*),
       SUM(CASE WHEN r.status = 'completed' THEN 1 ELSE 0 END),
       SUM(CASE WHEN r.status = 'pending' THEN 1 ELSE 0 END),
       SUM(CASE WHEN r.status = 'expired' THEN 1 ELSE 0 END)
FROM (SELECT appspace_id, MAX(created_day) AS anchor FROM rm_referral_days GROUP BY appspace_id) a
CROSS JOIN (SELECT 7 AS days UNION ALL SELECT 30 UNION ALL SELECT 90) p
JOIN rm_referrals r ON r.appspace_id = a.appspace_id
    AND r.created_at >= a.anchor - p.days * CAST(86400000 AS BIGINT) AND r.created_at < a.anchor + 86400000
GROUP BY r.appspace_id, p.days, r.referrer_id;

-- +goose Down
DROP TABLE rm_referrer_windows;
