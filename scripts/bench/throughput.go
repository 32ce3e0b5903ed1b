package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

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
	srv := httptest.NewServer(httpapi.New(svc, access, slog.New(slog.NewTextHandler(io.Discard, nil)), httpapi.Config{}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.conc * 2}}

	var out []result
	for run := 1; run <= o.runs; run++ {
		r := result{store: name, run: run}
		tag := fmt.Sprintf("r%d", run)
		raw := func(w, i int) error { return rawInsert(ctx, write, w, i) }
		direct := func(w, i int) error { return commandPair(ctx, svc, as.ID, tag, w, i) }
		r.raw1 = measure(name, "raw", o, raw)
		r.cmds1 = measure(name, "commands", o, direct)
		r.http = measure(name, "http", o, func(w, i int) error { return httpPair(client, srv.URL, key, tag, w, i) })
		tag += "b"
		r.cmds2 = measure(name, "commands", o, direct)
		r.raw2 = measure(name, "raw again", o, raw)
		out = append(out, r)
	}
	return out
}

// measure runs op from o.conc workers for o.duration and returns calls per
// second.
func measure(store, name string, o options, op func(worker, i int) error) float64 {
	pg0, self0 := benchkit.Postgres(), benchkit.Self()
	perSecond, calls := benchkit.Measure(o.conc, o.duration, op)
	n := float64(calls)
	fmt.Printf("%-9s %-10s CPU per call: postgres backends %4.0f us, this process %4.0f us\n",
		store, name, (benchkit.Postgres()-pg0).Seconds()*1e6/n, (benchkit.Self()-self0).Seconds()*1e6/n)
	return perSecond
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
