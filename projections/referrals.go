package projections

import (
	"cmp"
	"context"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/internal/sqlstmt"
)

// ReferralsName is the checkpoint name of the referrals projection.
const ReferralsName = "referrals"

// Referrals is the referrals projection and its queries. As a Handler it
// keeps five read models in step with the referral streams: rm_referrals
// (one row per referral), rm_referrers (counts per referrer, for the
// all-time leaderboard), rm_referral_days (counts per creation day,
// status and settlement day, for the stats), rm_referrer_windows
// (counts per referrer over the last 7, 30 and 90 days, for the windowed
// leaderboards) and rm_referrer_rewards (the reward values of each
// referrer's completed referrals by format, all time and per window).
// Its queries (List, Leaderboard, Stats) read them.
type Referrals struct {
	read   *sqlx.DB
	tables tables // where Apply writes: the live tables, or a rebuild's
	// deferWindows skips rm_referrer_windows: a rebuild derives it in one
	// statement once the bulk of the log is in.
	deferWindows bool
	bulk         *bulkCache // a rebuild's rows in flight; see prepareBulk
	// stmts keeps Apply's writes prepared on PostgreSQL (one round trip
	// each instead of lib/pq's two for a statement with parameters, and
	// no parse and plan); nil on SQLite and for a rebuild's tables.
	stmts *sqlstmt.Cache
}

// tables names the read models Apply writes. Queries always read the live
// tables; a rebuild writes rebuildTables and then renames them live. The
// statements put these names in with fmt.Sprintf: they are one of the two
// fixed sets below, never input.
type tables struct {
	referrals, referrers, days, windows, rewards string
}

// liveTables are the live tables of the referrals projection.
var liveTables = tables{
	referrals: "rm_referrals",
	referrers: "rm_referrers",
	days:      "rm_referral_days",
	windows:   "rm_referrer_windows",
	rewards:   "rm_referrer_rewards",
}

// rebuildTables are a rebuild's tables beside the live ones: the live
// names with shadowSuffix.
var rebuildTables = tables{
	referrals: "rm_referrals_rebuild",
	referrers: "rm_referrers_rebuild",
	days:      "rm_referral_days_rebuild",
	windows:   "rm_referrer_windows_rebuild",
	rewards:   "rm_referrer_rewards_rebuild",
}

// all returns the five names in one order.
func (t tables) all() []string {
	return []string{t.referrals, t.referrers, t.days, t.windows, t.rewards}
}

// shadowSuffix names a rebuild's tables (and, every other rebuild, their
// indexes) beside the live ones.
const shadowSuffix = "_rebuild"

// shadow returns the projection writing to the rebuild's tables.
func (p *Referrals) shadow() *Referrals {
	return &Referrals{read: p.read, tables: rebuildTables}
}

// NewReferrals returns the projection; its queries read through read (on
// SQLite the read-only pool, on PostgreSQL the one pool). Apply writes
// through the transaction it is given.
func NewReferrals(read *sqlx.DB) *Referrals {
	p := &Referrals{read: read, tables: liveTables}
	if read.DriverName() == "postgres" {
		p.stmts = sqlstmt.New(read.DB, 0)
	}
	return p
}

// referralKey names a referral: its appspace and code.
type referralKey struct{ appspace, code string }

func compareKeys(a, b referralKey) int {
	return cmp.Or(cmp.Compare(a.appspace, b.appspace), cmp.Compare(a.code, b.code))
}

// referrerKey names a referrer of an appspace.
type referrerKey struct{ appspace, referrer string }

// referrerDelta is the change a batch makes to a referrer's row.
type referrerDelta struct {
	name                               *string
	total, completed, pending, expired int64
}

// count adds n referrals of status s, to the total too.
func (d *referrerDelta) count(s domain.Status, n int64) {
	d.total += n
	d.add(s, n)
}

func (d *referrerDelta) add(s domain.Status, n int64) {
	switch s {
	case domain.StatusCompleted:
		d.completed += n
	case domain.StatusExpired:
		d.expired += n
	case domain.StatusVoided:
		// A voided referral leaves completed and pending; it stays in total.
	default:
		d.pending += n
	}
}

// dayKey is a row of rm_referral_days.
type dayKey struct {
	appspace   string
	createdDay int64
	status     domain.Status
	settledDay int64
	voidedDay  int64 // -1: not voided
}

// dayKeyOf returns the rm_referral_days row a referral counts in.
func dayKeyOf(v domain.ReferralView) dayKey {
	k := dayKey{appspace: v.AppspaceID, createdDay: dayStart(v.CreatedAt.UnixMilli()), status: v.Status, settledDay: -1, voidedDay: -1}
	if at := settledAt(v); at != nil {
		k.settledDay = dayStart(at.UnixMilli())
	}
	if v.VoidedAt != nil {
		k.voidedDay = dayStart(v.VoidedAt.UnixMilli())
	}
	return k
}

// Apply applies a batch of the global log: events of referral streams
// change their referral's row, and the referrer and day counts follow each
// referral's status before and after the batch. Other events are ignored.
// It loads the rows it needs in one query through tx (so it sees the
// batches before it in the same transaction) and writes each table with one
// multi-row upsert. An event already applied is skipped, so a batch applied
// twice changes nothing; an event that skips a version fails the batch.
func (p *Referrals) Apply(ctx context.Context, tx *sqlx.Tx, events []domain.RecordedEvent) error {
	keys := batchKeys(events)
	if len(keys) == 0 {
		return nil
	}
	before, err := loadReferrals(ctx, tx, p.tables, keys)
	if err != nil {
		return err
	}
	b, err := applyBatch(keys, before, events)
	if err != nil {
		return err
	}
	var windows map[windowKey]*referrerDelta
	rewards := rewardDeltas{}
	if !p.deferWindows { // before the rows are saved: it reads them as they were
		if windows, err = windowDeltas(ctx, tx, p.tables, b.changes, rewards); err != nil {
			return err
		}
	}
	stmts, err := b.statements(tx.DriverName(), p.tables, false)
	if err != nil {
		return err
	}
	more, err := saveWindows(tx.DriverName(), p.tables, windows)
	if err != nil {
		return err
	}
	windowRewards, err := saveRewards(tx.DriverName(), p.tables, rewards)
	if err != nil {
		return err
	}
	return execAll(ctx, tx, append(append(stmts, more...), windowRewards...), p.stmts)
}

// referralOf returns the referral an event belongs to, if it is an event of
// a referral stream.
func referralOf(e domain.RecordedEvent) (referralKey, bool) {
	appspace, category, code := domain.ParseStream(e.Stream)
	if category != "referral" || appspace == "" || code == "" {
		return referralKey{}, false
	}
	return referralKey{appspace, code}, true
}
