package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/referral-ledger/referral-ledger/adapters/httpapi"
	"github.com/referral-ledger/referral-ledger/adapters/sqlstore"
	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/scripts/benchkit"
)

// runThroughput measures one store o.runs times and returns each run's
// figures.
func runThroughput(ctx context.Context, s benchkit.Store, o options) []result {
	name, write := s.Name, s.Write
	pk := "INTEGER PRIMARY KEY"
	if name == "postgres" {
		pk = "BIGSERIAL PRIMARY KEY"
	}
	if _, err := write.ExecContext(ctx, "CREATE TABLE bench_raw (id "+pk+", payload TEXT NOT NULL)"); err != nil {
		log.Fatal(err)
	}
	access := sqlstore.NewAccess(write, s.Read)
	stopCache, err := benchkit.CacheKeys(ctx, access, s)
	if err != nil {
		log.Fatal(err)
	}
	defer stopCache()
	as, err := access.CreateAppspace(ctx, "bench")
	if err != nil {
		log.Fatal(err)
	}
	svc := domain.NewService(s.Events, domain.ServiceConfig{})
	_, key, err := access.CreateKey(ctx, as.ID, domain.RoleServer, "bench")
	if err != nil {
		log.Fatal(err)
	}
	srv := serveAPI(svc, access)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.conc * 2}}

	var out []result
	for run := 1; run <= o.runs; run++ {
		r := result{store: name, run: run}
		tag := fmt.Sprintf("r%d", run)
		raw := func(w, i int) error { return rawInsert(ctx, write, w, i) }
		direct := func(w, i int) error { return commandPair(ctx, svc, as.ID, tag, w, i) }
		m := func(phase string, op func(w, i int) error) float64 {
			return measure(name, phase, run, o, op)
		}
		r.raw1 = m("raw", raw)
		r.cmds1 = m("commands", direct)
		r.http = m("http", func(w, i int) error { return httpPair(client, srv.URL, key, tag, w, i) })
		m("http floor", func(int, int) error { return httpFloor(client, srv.URL, key) })
		tag += "b"
		r.cmds2 = m("commands again", direct)
		r.raw2 = m("raw again", raw)
		out = append(out, r)
	}
	return out
}

// serveAPI serves the API on loopback the way serve does: its handler
// chain with the per-key rate limit on (at a rate the bench never
// reaches, so every request passes through the limiter), metrics
// registered, and its http.Server with the timeouts.
func serveAPI(svc *domain.Service, keys httpapi.KeyStore) *httptest.Server {
	api := httpapi.New(svc, keys, slog.New(slog.NewTextHandler(io.Discard, nil)), httpapi.Config{
		Metrics: prometheus.NewRegistry(), RateLimit: 1e6,
	})
	srv := httptest.NewUnstartedServer(api)
	srv.Config = api.HTTPServer()
	srv.Start()
	return srv
}

// measure runs op from o.conc workers for o.duration and returns calls per
// second.
func measure(store, name string, run int, o options, op func(worker, i int) error) float64 {
	if o.phaseProfiles != "" {
		file := filepath.Join(o.phaseProfiles, fmt.Sprintf("%s-%s-r%d", store, strings.ReplaceAll(name, " ", "-"), run))
		writeAllocs(file + ".allocs-before")
		defer writeAllocs(file + ".allocs-after") // go tool pprof -base X.allocs-before X.allocs-after
		defer benchkit.StartProfile(file + ".pprof")()
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	pg0, self0 := benchkit.Postgres(), benchkit.Self()
	perSecond, calls := benchkit.Measure(o.conc, o.duration, op)
	n := float64(calls)
	pg, self := (benchkit.Postgres()-pg0).Seconds()*1e6/n, (benchkit.Self()-self0).Seconds()*1e6/n
	runtime.ReadMemStats(&m1)
	// On SQLite no backend is ours: benchkit.Postgres would count every
	// postgres process of the machine (other users' load), so none is shown.
	pgText := "   -"
	if store == "postgres" {
		pgText = fmt.Sprintf("%4.0f", pg)
	}
	fmt.Printf("%-9s %-14s per call: CPU postgres backends %s us, this process %4.0f us; %3.0f allocs, %5.1f KB; %4d GCs\n",
		store, name, pgText, self, float64(m1.Mallocs-m0.Mallocs)/n, float64(m1.TotalAlloc-m0.TotalAlloc)/n/1024, m1.NumGC-m0.NumGC)
	return perSecond
}

// writeAllocs writes the allocation profile so far to path.
func writeAllocs(path string) {
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		log.Fatal(err)
	}
}

var runID = time.Now().UnixNano()

func rawInsert(ctx context.Context, db *sqlx.DB, w, i int) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, db.Rebind("INSERT INTO bench_raw (payload) VALUES (?)"), fmt.Sprintf(`{"w":%d,"i":%d}`, w, i)); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// lastCode holds each worker's last created code for its next milestone.
var lastCode sync.Map

// commandPair is one command per call: even calls create a referral for a
// new referrer, odd calls report its referred user's first milestone.
func commandPair(ctx context.Context, svc *domain.Service, appspace, tag string, w, i int) error {
	o := domain.Origin{AppspaceID: appspace, RequestID: domain.NewID()}
	referrer := fmt.Sprintf("%s-%d-%d-%d", tag, runID, w, i/2)
	if i%2 == 0 {
		res, err := svc.CreateReferral(ctx, o, domain.CreateInput{ReferrerID: referrer})
		lastCode.Store(fmt.Sprint(tag, w), res.Referral.ReferralCode)
		return err
	}
	code, _ := lastCode.Load(fmt.Sprint(tag, w))
	_, err := svc.ReachMilestone(ctx, o, code.(string), domain.MilestoneInput{Milestone: "signed_up", ReferredUserID: "friend-of-" + referrer})
	return err
}
