package projections_test

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/adapters/storetest"
	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

// testClock is the service's clock, moved by the test.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *testClock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// rmEnv is a store, the domain service over it, and the referrals
// projection with its runner.
type rmEnv struct {
	store    domain.EventStore
	write    *sqlx.DB
	read     *sqlx.DB
	clock    *testClock
	svc      *domain.Service
	rm       *projections.Referrals
	runner   *projections.Runner
	appspace string
}

// forEachReadStore runs f on SQLite and on PostgreSQL, each with a fresh
// store, appspace and clock (at start).
func forEachReadStore(t *testing.T, start time.Time, f func(t *testing.T, e *rmEnv)) {
	t.Helper()
	storetest.ForEach(t, func(t *testing.T, kind string) {
		f(t, newRMEnv(t, kind, start))
	})
}

func newRMEnv(tb testing.TB, kind string, start time.Time) *rmEnv {
	tb.Helper()
	e := &rmEnv{clock: &testClock{t: start}, appspace: domain.NewPrefixedID("as")}
	e.store, e.write, e.read = storetest.Open(tb, kind)
	e.svc = domain.NewService(e.store, domain.ServiceConfig{Now: e.clock.Now})
	e.rm = projections.NewReferrals(e.read)
	r, err := projections.NewRunner(e.store, e.write, e.rm, projections.RunnerConfig{Name: projections.ReferralsName, BatchSize: 7})
	if err != nil {
		tb.Fatal(err)
	}
	e.runner = r
	return e
}

func (e *rmEnv) origin() domain.Origin {
	return domain.Origin{AppspaceID: e.appspace, RequestID: domain.NewID()}
}

// logLength counts the events appended. ReadAll on PostgreSQL holds back
// events while an older transaction (of any test) is open, so the helpers
// below wait until they have seen this many.
func (e *rmEnv) logLength(tb testing.TB) int64 {
	tb.Helper()
	var n int64
	if err := e.read.Get(&n, `SELECT count(*) FROM events`); err != nil {
		tb.Fatal(err)
	}
	return n
}

// project runs the projection until it has applied the whole log.
func (e *rmEnv) project(tb testing.TB) {
	tb.Helper()
	ctx := context.Background()
	want := e.logLength(tb)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		n, err := e.runner.Step(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		if n > 0 {
			continue
		}
		c, err := e.runner.Checkpoint(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		if c.Applied >= want {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	tb.Fatal("the projection did not catch up")
}

func (e *rmEnv) settings(tb testing.TB, change func(*domain.Settings)) {
	tb.Helper()
	if _, err := e.svc.UpdateSettings(context.Background(), e.origin(), func(s *domain.Settings) error {
		change(s)
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
}

func (e *rmEnv) create(tb testing.TB, referrer string, name *string, meta string) string {
	tb.Helper()
	in := domain.CreateInput{ReferrerID: referrer, ReferrerName: name}
	if meta != "" {
		in.Metadata = json.RawMessage(meta)
	}
	res, err := e.svc.CreateReferral(context.Background(), e.origin(), in)
	if err != nil {
		tb.Fatal(err)
	}
	if !res.Created {
		tb.Fatalf("referrer %s got its pending referral back", referrer)
	}
	return res.Referral.ReferralCode
}

func (e *rmEnv) milestone(tb testing.TB, code, milestone, referee string) {
	tb.Helper()
	in := domain.MilestoneInput{Milestone: milestone, ReferredUserID: referee}
	if _, err := e.svc.ReachMilestone(context.Background(), e.origin(), code, in); err != nil {
		tb.Fatal(err)
	}
}

func (e *rmEnv) complete(tb testing.TB, code, referee string) {
	tb.Helper()
	in := domain.MilestoneInput{ReferredUserID: referee}
	if _, err := e.svc.CompleteReferral(context.Background(), e.origin(), code, in); err != nil {
		tb.Fatal(err)
	}
}

// get reads a referral through the service, which records a due expiry.
func (e *rmEnv) get(tb testing.TB, code string) domain.ReferralView {
	tb.Helper()
	v, err := e.svc.GetReferral(context.Background(), e.origin(), code)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// load rebuilds a referral from its stream, as the command side does.
func (e *rmEnv) load(tb testing.TB, code string) domain.ReferralView {
	tb.Helper()
	evs, err := e.store.ReadStream(context.Background(), domain.ReferralStream(e.appspace, code), 1, 0)
	if err != nil {
		tb.Fatal(err)
	}
	r, err := domain.LoadReferral(e.appspace, evs)
	if err != nil {
		tb.Fatal(err)
	}
	return r.View()
}

// rows returns every referral of the appspace in the read model, by code,
// read through List.
func (e *rmEnv) rows(tb testing.TB) map[string]domain.ReferralView {
	tb.Helper()
	out := map[string]domain.ReferralView{}
	f := projections.ListFilter{AppspaceID: e.appspace, Limit: 1000}
	for {
		page, err := e.rm.List(context.Background(), f)
		if err != nil {
			tb.Fatal(err)
		}
		for _, v := range page.Referrals {
			out[v.ReferralCode] = v
		}
		if page.NextCursor == "" {
			return out
		}
		f.Cursor = page.NextCursor
	}
}

// checkRows compares every read model row with the command side's view.
func (e *rmEnv) checkRows(tb testing.TB, codes []string) {
	tb.Helper()
	got := e.rows(tb)
	if len(got) != len(codes) {
		tb.Errorf("the read model has %d referrals, want %d", len(got), len(codes))
	}
	for _, code := range codes {
		if diff := cmp.Diff(got[code], e.load(tb, code)); diff != "" {
			tb.Errorf("referral %s: read model differs from the stream (-got +want):\n%s", code, diff)
		}
	}
}

type countRow struct {
	Key       string `db:"k"`
	Total     int64  `db:"total"`
	Completed int64  `db:"completed"`
	Pending   int64  `db:"pending"`
	Expired   int64  `db:"expired"`
}

// checkCounts checks that rm_referrers, rm_referral_days and
// rm_referrer_windows agree with the rows of rm_referrals.
func (e *rmEnv) checkCounts(tb testing.TB) {
	tb.Helper()
	e.checkWindows(tb)
	var referrers, want []countRow
	if err := e.read.Select(&referrers, e.read.Rebind(`SELECT referrer_id AS k, total, completed, pending, expired
		FROM rm_referrers WHERE appspace_id = ? ORDER BY referrer_id`), e.appspace); err != nil {
		tb.Fatal(err)
	}
	if err := e.read.Select(&want, e.read.Rebind(`SELECT referrer_id AS k, COUNT(*) AS total,
		SUM(CASE WHEN status = 'completed' THEN 1 ELSE 0 END) AS completed,
		SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END) AS pending,
		SUM(CASE WHEN status = 'expired' THEN 1 ELSE 0 END) AS expired
		FROM rm_referrals WHERE appspace_id = ? GROUP BY referrer_id ORDER BY referrer_id`), e.appspace); err != nil {
		tb.Fatal(err)
	}
	if diff := cmp.Diff(referrers, want); diff != "" {
		tb.Errorf("rm_referrers differs from the counts of rm_referrals (-got +want):\n%s", diff)
	}

	type dayRow struct {
		Created int64  `db:"created_day"`
		Status  string `db:"status"`
		Settled int64  `db:"settled_day"`
		Voided  int64  `db:"voided_day"`
		N       int64  `db:"n"`
	}
	var days []dayRow
	if err := e.read.Select(&days, e.read.Rebind(`SELECT created_day, status, settled_day, voided_day, n FROM rm_referral_days
		WHERE appspace_id = ? AND n <> 0 ORDER BY created_day, status, settled_day, voided_day`), e.appspace); err != nil {
		tb.Fatal(err)
	}
	counts := map[dayRow]int64{}
	for _, v := range e.rows(tb) {
		k := dayRow{Created: midnight(v.CreatedAt), Status: string(v.Status), Settled: -1, Voided: -1}
		if v.VoidedAt != nil {
			k.Voided = midnight(*v.VoidedAt)
		}
		if v.CompletedAt != nil {
			k.Settled = midnight(*v.CompletedAt)
		} else if v.ExpiredAt != nil {
			k.Settled = midnight(*v.ExpiredAt)
		}
		counts[k]++
	}
	var wantDays []dayRow
	for k, n := range counts {
		k.N = n
		wantDays = append(wantDays, k)
	}
	sort.Slice(wantDays, func(i, j int) bool {
		a, b := wantDays[i], wantDays[j]
		if a.Created != b.Created {
			return a.Created < b.Created
		}
		if a.Status != b.Status {
			return a.Status < b.Status
		}
		if a.Settled != b.Settled {
			return a.Settled < b.Settled
		}
		return a.Voided < b.Voided
	})
	if diff := cmp.Diff(days, wantDays); diff != "" {
		tb.Errorf("rm_referral_days differs from the rows of rm_referrals (-got +want):\n%s", diff)
	}
}

func midnight(t time.Time) int64 { return t.UTC().Truncate(24 * time.Hour).UnixMilli() }

func ptr[T any](v T) *T { return &v }
