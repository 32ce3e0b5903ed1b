package projections

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// The rebuild's tables, written out: the live read models' columns and
// keys under rebuildTables' names. A new migration that changes a read
// model changes these too (TestRebuildTablesMatchLive fails until it does).

// postgresRebuildTables copy the live tables' columns, defaults and
// constraints but no index: the primary keys come next
// (postgresRebuildKeys), the other indexes once the bulk is in.
var postgresRebuildTables = []string{
	`CREATE TABLE rm_referrals_rebuild (LIKE rm_referrals INCLUDING ALL EXCLUDING INDEXES)`,
	`CREATE TABLE rm_referrers_rebuild (LIKE rm_referrers INCLUDING ALL EXCLUDING INDEXES)`,
	`CREATE TABLE rm_referral_days_rebuild (LIKE rm_referral_days INCLUDING ALL EXCLUDING INDEXES)`,
	`CREATE TABLE rm_referrer_windows_rebuild (LIKE rm_referrer_windows INCLUDING ALL EXCLUDING INDEXES)`,
	`CREATE TABLE rm_referrer_rewards_rebuild (LIKE rm_referrer_rewards INCLUDING ALL EXCLUDING INDEXES)`,
}

// rebuildIndex is an index (or key) of a rebuild table: its name as the
// migration gave it, and its DDL with a %s for the name it gets.
type rebuildIndex struct{ name, ddl string }

// postgresRebuildKeys are the rebuild tables' primary keys on PostgreSQL,
// but rm_referrer_windows_rebuild's (see windowIndexes).
var postgresRebuildKeys = []rebuildIndex{
	{"rm_referrals_pkey", `ALTER TABLE rm_referrals_rebuild ADD CONSTRAINT %s PRIMARY KEY (appspace_id, referral_code)`},
	{"rm_referrers_pkey", `ALTER TABLE rm_referrers_rebuild ADD CONSTRAINT %s PRIMARY KEY (appspace_id, referrer_id)`},
	{"rm_referral_days_pkey", `ALTER TABLE rm_referral_days_rebuild ADD CONSTRAINT %s PRIMARY KEY (appspace_id, created_day, status, settled_day, voided_day)`},
	{"rm_referrer_rewards_pkey", `ALTER TABLE rm_referrer_rewards_rebuild ADD CONSTRAINT %s PRIMARY KEY (appspace_id, days, referrer_id, prefix, suffix, decimals)`},
}

// sqliteRebuildTables are the rebuild tables on SQLite, keys included.
var sqliteRebuildTables = []string{
	`CREATE TABLE rm_referrals_rebuild (
		appspace_id TEXT NOT NULL, referral_code TEXT NOT NULL, referral_id TEXT NOT NULL,
		referrer_id TEXT NOT NULL, referrer_name TEXT, referred_user_id TEXT, referred_user_name TEXT,
		referral_url TEXT, status TEXT NOT NULL, milestone TEXT, milestone_history TEXT NOT NULL,
		reward_type TEXT, reward_value TEXT, referee_reward_type TEXT, referee_reward_value TEXT,
		reward_claimed_at BIGINT, referee_reward_claimed_at BIGINT, created_at BIGINT NOT NULL,
		expires_at BIGINT, completed_at BIGINT, expired_at BIGINT, settled_at BIGINT, metadata TEXT,
		version BIGINT NOT NULL, referrer_ip TEXT, referrer_device_id TEXT, reward_available_at BIGINT,
		reward_reversal TEXT, referee_reward_reversal TEXT, review_state TEXT, review_flagged_at BIGINT,
		review_resolved_at BIGINT, review TEXT, voided_at BIGINT, void_reason TEXT,
		PRIMARY KEY (appspace_id, referral_code))`,
	`CREATE TABLE rm_referrers_rebuild (
		appspace_id TEXT NOT NULL, referrer_id TEXT NOT NULL, referrer_name TEXT,
		total BIGINT NOT NULL, completed BIGINT NOT NULL, pending BIGINT NOT NULL, expired BIGINT NOT NULL,
		PRIMARY KEY (appspace_id, referrer_id))`,
	`CREATE TABLE rm_referral_days_rebuild (
		appspace_id TEXT NOT NULL, created_day BIGINT NOT NULL, status TEXT NOT NULL,
		settled_day BIGINT NOT NULL, voided_day BIGINT NOT NULL, n BIGINT NOT NULL,
		PRIMARY KEY (appspace_id, created_day, status, settled_day, voided_day)) WITHOUT ROWID`,
	`CREATE TABLE rm_referrer_windows_rebuild (
		appspace_id TEXT NOT NULL, days BIGINT NOT NULL, referrer_id TEXT NOT NULL,
		total BIGINT NOT NULL, completed BIGINT NOT NULL, pending BIGINT NOT NULL, expired BIGINT NOT NULL,
		PRIMARY KEY (appspace_id, days, referrer_id)) WITHOUT ROWID`,
	`CREATE TABLE rm_referrer_rewards_rebuild (
		appspace_id TEXT NOT NULL, days BIGINT NOT NULL, referrer_id TEXT NOT NULL,
		prefix TEXT NOT NULL, suffix TEXT NOT NULL, decimals BIGINT NOT NULL,
		n BIGINT NOT NULL, units BIGINT NOT NULL,
		PRIMARY KEY (appspace_id, days, referrer_id, prefix, suffix, decimals)) WITHOUT ROWID`,
}

// rebuildIndexes are the rebuild tables' other indexes, the same on both
// stores. The rebuild adds them once the bulk of the log is in, which is
// much faster than keeping them up to date row by row.
var rebuildIndexes = []rebuildIndex{
	{"rm_referrals_created", `CREATE INDEX %s ON rm_referrals_rebuild (appspace_id, created_at, referral_code)`},
	{"rm_referrals_status", `CREATE INDEX %s ON rm_referrals_rebuild (appspace_id, status, created_at, referral_code)`},
	{"rm_referrals_referrer", `CREATE INDEX %s ON rm_referrals_rebuild (appspace_id, referrer_id, created_at, referral_code)`},
	{"rm_referrals_expiry", `CREATE INDEX %s ON rm_referrals_rebuild (status, expires_at, appspace_id, referral_code)`},
	{"rm_referrals_window", `CREATE INDEX %s ON rm_referrals_rebuild (appspace_id, created_at, referrer_id, status, settled_at)`},
	{"rm_referrals_settled", `CREATE INDEX %s ON rm_referrals_rebuild (appspace_id, settled_at, created_at, status) WHERE settled_at IS NOT NULL`},
	{"rm_referrals_reviews", `CREATE INDEX %s ON rm_referrals_rebuild (appspace_id, review_state, review_flagged_at, referral_code) WHERE review_state IS NOT NULL`},
	{"rm_referrals_reviewed", `CREATE INDEX %s ON rm_referrals_rebuild (appspace_id, created_at, review_flagged_at, review_resolved_at) WHERE review_flagged_at IS NOT NULL`},
	{"rm_referrals_voided", `CREATE INDEX %s ON rm_referrals_rebuild (appspace_id, voided_at, created_at, settled_at) WHERE voided_at IS NOT NULL`},
	{"rm_referrers_rank", `CREATE INDEX %s ON rm_referrers_rebuild (appspace_id, completed DESC, total DESC, referrer_id)`},
}

// windowIndexes are rm_referrer_windows_rebuild's indexes, which the
// rebuild adds once it has derived the windows (deriveWindows): its rank
// index, and on PostgreSQL its primary key too (on SQLite the key is the
// table, WITHOUT ROWID, and the derivation writes in its order): keeping
// the indexes up to date row by row cost more than the derivation's query.
func windowIndexes(driver string) []rebuildIndex {
	rank := rebuildIndex{"rm_referrer_windows_rank", `CREATE INDEX %s ON rm_referrer_windows_rebuild (appspace_id, days, completed DESC, total DESC, referrer_id)`}
	if driver != "postgres" {
		return []rebuildIndex{rank}
	}
	return []rebuildIndex{
		{"rm_referrer_windows_pkey", `ALTER TABLE rm_referrer_windows_rebuild ADD CONSTRAINT %s PRIMARY KEY (appspace_id, days, referrer_id)`},
		rank,
	}
}

// createIndexes runs each index's DDL under a free name. Index names
// outlive the rename of their table, so after a switch-over the live
// indexes carry the names the rebuild gave them: the migration's name,
// or that name with shadowSuffix. Each rebuild takes whichever of the two
// the live tables do not hold. On PostgreSQL each builds without parallel
// workers: completeShadow builds several side by side instead, and the
// workers cost CPU (an index of rm_referrals at 200k events: 250-280 ms
// of the server's CPU without them, 320-440 ms with the default two).
func createIndexes(ctx context.Context, db *sqlx.DB, indexes []rebuildIndex) error {
	for _, ix := range indexes {
		var taken bool
		q := `SELECT COUNT(*) > 0 FROM sqlite_master WHERE name = ?`
		if db.DriverName() == "postgres" {
			q = `SELECT to_regclass($1) IS NOT NULL`
		}
		if err := db.GetContext(ctx, &taken, q, ix.name); err != nil {
			return fmt.Errorf("rebuild: look up index %s: %w", ix.name, err)
		}
		name := ix.name
		if taken {
			name += shadowSuffix
		}
		err := inTxSetting(ctx, db, []string{"max_parallel_maintenance_workers = 0"}, func(tx *sqlx.Tx) error {
			_, err := tx.ExecContext(ctx, fmt.Sprintf(ix.ddl, name))
			return err
		})
		if err != nil {
			return fmt.Errorf("rebuild: create index %s: %w", name, err)
		}
	}
	return nil
}
