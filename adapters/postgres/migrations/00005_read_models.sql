-- Read models of the referrals projection (projections.Referrals), written
-- by its runner in the same transaction as its checkpoint. Times are unix
-- milliseconds. Everything here can be rebuilt from the event log.
-- Sorted text keys use the "C" collation, so PostgreSQL orders them byte by
-- byte as SQLite does, whatever the database's locale.

-- +goose Up
-- One row per referral: the referral object as the API shows it. The free
-- space (fillfactor) lets milestones and claims update rows in place (HOT).
CREATE TABLE rm_referrals (
    appspace_id               TEXT   COLLATE "C" NOT NULL,
    referral_code             TEXT   COLLATE "C" NOT NULL,
    referral_id               TEXT   NOT NULL,
    referrer_id               TEXT   COLLATE "C" NOT NULL,
    referrer_name             TEXT,
    referred_user_id          TEXT,
    referred_user_name        TEXT,
    referral_url              TEXT,
    status                    TEXT   NOT NULL, -- pending | completed | expired
    milestone                 TEXT,
    milestone_history         TEXT   NOT NULL, -- JSON [{"milestone": "...", "timestamp": unix ms}]
    reward_type               TEXT,
    reward_value              TEXT,
    referee_reward_type       TEXT,
    referee_reward_value      TEXT,
    reward_claimed_at         BIGINT,
    referee_reward_claimed_at BIGINT,
    created_at                BIGINT NOT NULL,
    expires_at                BIGINT,
    completed_at              BIGINT,
    expired_at                BIGINT,
    settled_at                BIGINT,          -- completed_at or expired_at: when it left pending
    metadata                  TEXT,            -- the event's JSON, byte for byte; NULL when absent
    version                   BIGINT NOT NULL, -- the stream revision applied
    PRIMARY KEY (appspace_id, referral_code)
) WITH (fillfactor = 90);
-- GET /v1/api/referrals, newest first, unfiltered, by status, by referrer.
CREATE INDEX rm_referrals_created ON rm_referrals (appspace_id, created_at, referral_code);
CREATE INDEX rm_referrals_status ON rm_referrals (appspace_id, status, created_at, referral_code);
CREATE INDEX rm_referrals_referrer ON rm_referrals (appspace_id, referrer_id, created_at, referral_code);
-- The expiry sweep: pending referrals by expires_at (covering).
CREATE INDEX rm_referrals_expiry ON rm_referrals (status, expires_at, appspace_id, referral_code);
-- The windowed leaderboard and the stats of partial days (covering).
CREATE INDEX rm_referrals_window ON rm_referrals (appspace_id, created_at, referrer_id, status, settled_at);
-- Stats as of a moment: the referrals settled on that moment's day.
CREATE INDEX rm_referrals_settled ON rm_referrals (appspace_id, settled_at, created_at, status)
    WHERE settled_at IS NOT NULL;

-- One row per referrer: the all-time leaderboard. The counts equal the
-- statuses of the referrer's rows in rm_referrals.
CREATE TABLE rm_referrers (
    appspace_id   TEXT   COLLATE "C" NOT NULL,
    referrer_id   TEXT   COLLATE "C" NOT NULL,
    referrer_name TEXT,            -- the latest non-null name a referral was created with
    total         BIGINT NOT NULL,
    completed     BIGINT NOT NULL,
    pending       BIGINT NOT NULL,
    expired       BIGINT NOT NULL,
    PRIMARY KEY (appspace_id, referrer_id)
);
CREATE INDEX rm_referrers_rank ON rm_referrers (appspace_id, completed DESC, total DESC, referrer_id);

-- Referral counts by the UTC day they were created, their status, and the
-- UTC day they left pending, so stats over whole days (now, or as of any
-- moment) sum a few rows instead of counting referrals. Days are the unix
-- ms of their midnight; settled_day is -1 (no midnight) for pending rows.
CREATE TABLE rm_referral_days (
    appspace_id TEXT   COLLATE "C" NOT NULL,
    created_day BIGINT NOT NULL,
    status      TEXT   NOT NULL,
    settled_day BIGINT NOT NULL,
    n           BIGINT NOT NULL,
    PRIMARY KEY (appspace_id, created_day, status, settled_day)
);

-- +goose Down
DROP TABLE rm_referral_days;
DROP TABLE rm_referrers;
DROP TABLE rm_referrals;
