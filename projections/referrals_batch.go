package projections

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/referral-ledger/referral-ledger/domain"
)

// batchKeys returns the referrals that events belong to, in their order.
func batchKeys(events []domain.RecordedEvent) []referralKey {
	var keys []referralKey
	seen := map[referralKey]bool{}
	for _, e := range events {
		if k, ok := referralOf(e); ok && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// batch is what a batch of events changes.
type batch struct {
	changes   []change // by key
	referrers map[referrerKey]*referrerDelta
	days      map[dayKey]int64
	rewards   rewardDeltas // all time (days 0) only
}

// applyBatch applies events to the referrals of keys, as before has them
// (a key missing there is new), and returns the changes. It sorts keys.
func applyBatch(keys []referralKey, before map[referralKey]domain.ReferralView, events []domain.RecordedEvent) (batch, error) {
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
			return batch{}, fmt.Errorf("referrals: apply %s at position %d: %w", e.Stream, e.Position, err)
		}
		if applied && e.Type == domain.TypeReferralCreated {
			if v := agg.View(); v.ReferrerName != nil {
				names[referrerKey{k.appspace, v.ReferrerID}] = v.ReferrerName
			}
		}
	}

	slices.SortFunc(keys, compareKeys) // a stable lock order for the upserts
	b := batch{referrers: map[referrerKey]*referrerDelta{}, days: map[dayKey]int64{}, rewards: rewardDeltas{}}
	for _, k := range keys {
		after := aggs[k].View()
		old, existed := before[k]
		if existed && after.Version == old.Version {
			continue
		}
		if after.Status == "" || after.ReferralCode != k.code {
			return batch{}, fmt.Errorf("referrals: stream %s does not start with a %s event for its code", domain.ReferralStream(k.appspace, k.code), domain.TypeReferralCreated)
		}
		c := change{now: after}
		if existed {
			c.old = &old
		}
		b.changes = append(b.changes, c)
		rk := referrerKey{k.appspace, after.ReferrerID}
		d := b.referrers[rk]
		if d == nil {
			d = &referrerDelta{name: names[rk]}
			b.referrers[rk] = d
		}
		if existed {
			d.add(old.Status, -1)
			b.days[dayKeyOf(old)]--
			b.rewards.add(old, 0, -1)
		} else {
			d.total++
		}
		d.add(after.Status, 1)
		b.days[dayKeyOf(after)]++
		b.rewards.add(after, 0, 1)
	}
	return b, nil
}

// statements returns the statements that write the batch's rows, referrer
// counts, day counts and all-time reward totals. With copyNew (a bulk
// replay's, which knows which referrals have no row yet) the rows of new
// referrals are copied on PostgreSQL (copyReferrals).
func (b batch) statements(driver string, t tables, copyNew bool) ([]stmt, error) {
	var views, fresh []domain.ReferralView
	for _, c := range b.changes {
		if copyNew && driver == "postgres" && c.old == nil {
			fresh = append(fresh, c.now)
		} else {
			views = append(views, c.now)
		}
	}
	rows, err := saveReferrals(driver, t, views)
	if err != nil {
		return nil, err
	}
	if len(fresh) > 0 {
		s, err := copyReferrals(t, fresh)
		if err != nil {
			return nil, err
		}
		rows = append(rows, s)
	}
	referrers, err := saveReferrers(driver, t, b.referrers)
	if err != nil {
		return nil, err
	}
	days, err := saveDays(driver, t, b.days)
	if err != nil {
		return nil, err
	}
	rewards, err := saveRewards(driver, t, b.rewards)
	return append(append(append(rows, referrers...), days...), rewards...), err
}

// saveReferrers returns the statements that add the batch's deltas to
// rm_referrers.
func saveReferrers(driver string, t tables, deltas map[referrerKey]*referrerDelta) ([]stmt, error) {
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
	return upsert(driver, "save referrers", fmt.Sprintf(`INSERT INTO %s
		(appspace_id, referrer_id, referrer_name, total, completed, pending, expired)`, t.referrers), rows,
		fmt.Sprintf(` ON CONFLICT (appspace_id, referrer_id) DO UPDATE SET
		referrer_name = COALESCE(excluded.referrer_name, %[1]s.referrer_name),
		total = %[1]s.total + excluded.total,
		completed = %[1]s.completed + excluded.completed,
		pending = %[1]s.pending + excluded.pending,
		expired = %[1]s.expired + excluded.expired`, t.referrers))
}

// saveDays returns the statements that add the batch's deltas to
// rm_referral_days. Rows that fall to zero stay: they cost a row and save
// a delete.
func saveDays(driver string, t tables, deltas map[dayKey]int64) ([]stmt, error) {
	keys := make([]dayKey, 0, len(deltas))
	for k, n := range deltas {
		if n != 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b dayKey) int {
		return cmp.Or(cmp.Compare(a.appspace, b.appspace), cmp.Compare(a.createdDay, b.createdDay),
			cmp.Compare(a.status, b.status), cmp.Compare(a.settledDay, b.settledDay), cmp.Compare(a.voidedDay, b.voidedDay))
	})
	rows := make([][]any, len(keys))
	for i, k := range keys {
		rows[i] = []any{k.appspace, k.createdDay, string(k.status), k.settledDay, k.voidedDay, deltas[k]}
	}
	return upsert(driver, "save day counts", fmt.Sprintf(`INSERT INTO %s (appspace_id, created_day, status, settled_day, voided_day, n)`, t.days), rows,
		fmt.Sprintf(` ON CONFLICT (appspace_id, created_day, status, settled_day, voided_day) DO UPDATE SET n = %[1]s.n + excluded.n`, t.days))
}
