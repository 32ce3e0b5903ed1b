package projections

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
)

// ReferralsName is the checkpoint name of the referrals projection.
const ReferralsName = "referrals"

// Referrals is the referrals projection and its queries. As a Handler it
// keeps four read models in step with the referral streams: rm_referrals
// (one row per referral), rm_referrers (counts per referrer, for the
// all-time leaderboard), rm_referral_days (counts per creation day,
// status and settlement day, for the stats) and rm_referrer_windows
// (counts per referrer over the last 7, 30 and 90 days, for the windowed
// leaderboards). Its queries (List, Leaderboard, Stats) read them.
type Referrals struct {
	read   *sqlx.DB
	tables tables // where Apply writes: the live tables, or a rebuild's
	// deferWindows skips rm_referrer_windows: a rebuild derives it in one
	// statement once the bulk of the log is in.
	deferWindows bool
}

// tables names the read models Apply writes. Queries always read the live
// tables; a rebuild writes shadow tables and then renames them live.
type tables struct{ rename *strings.Replacer }

// sql names q's tables as t says.
func (t tables) sql(q string) string {
	if t.rename == nil {
		return q
	}
	return t.rename.Replace(q)
}

// readModelTables are the live tables of the referrals projection.
var readModelTables = []string{"rm_referrals", "rm_referrers", "rm_referral_days", "rm_referrer_windows"}

// shadowSuffix names a rebuild's tables beside the live ones.
const shadowSuffix = "_rebuild"

// shadow returns the projection writing to the rebuild's tables.
func (p *Referrals) shadow() *Referrals {
	var pairs []string
	for _, t := range readModelTables {
		pairs = append(pairs, t, t+shadowSuffix)
	}
	return &Referrals{read: p.read, tables: tables{rename: strings.NewReplacer(pairs...)}}
}

// NewReferrals returns the projection; its queries read through read (on
// SQLite the read-only pool, on PostgreSQL the one pool). Apply writes
// through the transaction it is given.
func NewReferrals(read *sqlx.DB) *Referrals { return &Referrals{read: read} }

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
}

// dayKeyOf returns the rm_referral_days row a referral counts in.
func dayKeyOf(v domain.ReferralView) dayKey {
	k := dayKey{appspace: v.AppspaceID, createdDay: dayStart(v.CreatedAt.UnixMilli()), status: v.Status, settledDay: -1}
	if at := settledAt(v); at != nil {
		k.settledDay = dayStart(at.UnixMilli())
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
	var keys []referralKey
	seen := map[referralKey]bool{}
	for _, e := range events {
		if k, ok := referralOf(e); ok && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	before, err := loadReferrals(ctx, tx, p.tables, keys)
	if err != nil {
		return err
	}
	aggs := make(map[referralKey]*domain.Referral, len(keys))
	names := map[referrerKey]*string{} // the latest non-null name of a referral created in the batch
	for _, e := range events {
		k, ok := referralOf(e)
		if !ok {
			continue
		}
		agg := aggs[k]
		if agg == nil {
			v, found := before[k]
			if !found {
				v = domain.ReferralView{AppspaceID: k.appspace}
			}
			agg = domain.RestoreReferral(v)
			aggs[k] = agg
		}
		applied, err := agg.ApplyRecorded(e)
		if err != nil {
			return fmt.Errorf("referrals: apply %s at position %d: %w", e.Stream, e.Position, err)
		}
		if applied && e.Type == domain.TypeReferralCreated {
			if v := agg.View(); v.ReferrerName != nil {
				names[referrerKey{k.appspace, v.ReferrerID}] = v.ReferrerName
			}
		}
	}

	slices.SortFunc(keys, compareKeys) // a stable lock order for the upserts
	var changed []domain.ReferralView
	var changes []change
	referrers := map[referrerKey]*referrerDelta{}
	days := map[dayKey]int64{}
	for _, k := range keys {
		after := aggs[k].View()
		old, existed := before[k]
		if existed && after.Version == old.Version {
			continue
		}
		if after.Status == "" || after.ReferralCode != k.code {
			return fmt.Errorf("referrals: stream %s does not start with a %s event for its code", domain.ReferralStream(k.appspace, k.code), domain.TypeReferralCreated)
		}
		changed = append(changed, after)
		c := change{now: after}
		if existed {
			c.old = &old
		}
		changes = append(changes, c)
		rk := referrerKey{k.appspace, after.ReferrerID}
		d := referrers[rk]
		if d == nil {
			d = &referrerDelta{name: names[rk]}
			referrers[rk] = d
		}
		if existed {
			d.add(old.Status, -1)
			days[dayKeyOf(old)]--
		} else {
			d.total++
		}
		d.add(after.Status, 1)
		days[dayKeyOf(after)]++
	}
	var windows map[windowKey]*referrerDelta
	if !p.deferWindows { // before saveReferrals: it reads the rows as they were
		if windows, err = windowDeltas(ctx, tx, p.tables, changes); err != nil {
			return err
		}
	}
	if err := saveReferrals(ctx, tx, p.tables, changed); err != nil {
		return err
	}
	if err := saveReferrers(ctx, tx, p.tables, referrers); err != nil {
		return err
	}
	if err := saveDays(ctx, tx, p.tables, days); err != nil {
		return err
	}
	return saveWindows(ctx, tx, p.tables, windows)
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

// saveReferrers adds the batch's deltas to rm_referrers.
func saveReferrers(ctx context.Context, tx *sqlx.Tx, t tables, deltas map[referrerKey]*referrerDelta) error {
	keys := make([]referrerKey, 0, len(deltas))
	for k, d := range deltas {
		if d.name != nil || d.total != 0 || d.completed != 0 || d.pending != 0 || d.expired != 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b referrerKey) int {
		return cmp.Or(cmp.Compare(a.appspace, b.appspace), cmp.Compare(a.referrer, b.referrer))
	})
	rows := make([][]any, len(keys))
	for i, k := range keys {
		d := deltas[k]
		rows[i] = []any{k.appspace, k.referrer, d.name, d.total, d.completed, d.pending, d.expired}
	}
	err := upsert(ctx, tx, t.sql(`INSERT INTO rm_referrers
		(appspace_id, referrer_id, referrer_name, total, completed, pending, expired) VALUES `), rows,
		t.sql(` ON CONFLICT (appspace_id, referrer_id) DO UPDATE SET
		referrer_name = COALESCE(excluded.referrer_name, rm_referrers.referrer_name),
		total = rm_referrers.total + excluded.total,
		completed = rm_referrers.completed + excluded.completed,
		pending = rm_referrers.pending + excluded.pending,
		expired = rm_referrers.expired + excluded.expired`))
	if err != nil {
		return fmt.Errorf("referrals: save referrers: %w", err)
	}
	return nil
}

// saveDays adds the batch's deltas to rm_referral_days. Rows that fall to
// zero stay: they cost a row and save a delete.
func saveDays(ctx context.Context, tx *sqlx.Tx, t tables, deltas map[dayKey]int64) error {
	keys := make([]dayKey, 0, len(deltas))
	for k, n := range deltas {
		if n != 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b dayKey) int {
		return cmp.Or(cmp.Compare(a.appspace, b.appspace), cmp.Compare(a.createdDay, b.createdDay),
			cmp.Compare(a.status, b.status), cmp.Compare(a.settledDay, b.settledDay))
	})
	rows := make([][]any, len(keys))
	for i, k := range keys {
		rows[i] = []any{k.appspace, k.createdDay, string(k.status), k.settledDay, deltas[k]}
	}
	err := upsert(ctx, tx, t.sql(`INSERT INTO rm_referral_days (appspace_id, created_day, status, settled_day, n) VALUES `), rows,
		t.sql(` ON CONFLICT (appspace_id, created_day, status, settled_day) DO UPDATE SET n = rm_referral_days.n + excluded.n`))
	if err != nil {
		return fmt.Errorf("referrals: save day counts: %w", err)
	}
	return nil
}
