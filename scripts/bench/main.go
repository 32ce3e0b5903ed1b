// Command bench measures the command path against each store's raw write
// rate in the same run, and prints the figures.
//
//	go run ./scripts/bench -duration 10s
//
// For each store it runs, with the same number of concurrent callers:
// single-row insert transactions (the store's raw rate), the create and
// milestone commands through the domain service, the raw rate again (the
// baseline is the mean of both, to cancel drift on a shared machine), and
// the same commands end to end over HTTP on loopback.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/adapters/httpapi"
	"github.com/referral-ledger/referral-ledger/adapters/sqlstore"
	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/scripts/benchkit"
)

func main() {
	duration := flag.Duration("duration", 5*time.Second, "how long each measurement runs")
	conc := flag.Int("concurrency", 16, "concurrent callers")
	pgURL := flag.String("pg", os.Getenv("LEDGER_TEST_DATABASE_URL"), "PostgreSQL URL (empty: SQLite only)")
	only := flag.String("only", "", "run one store only: sqlite or postgres")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	defer benchkit.StartProfile(*cpuprofile)()
	ctx := context.Background()

	fmt.Printf("%d concurrent callers, %s per measurement\n\n", *conc, *duration)
	var rows []string
	benchkit.ForEachStore(ctx, *pgURL, *only, func(st benchkit.Store) {
		rows = append(rows, run(ctx, st, *conc, *duration))
	})
	fmt.Printf("\n%-9s %12s %14s %14s %8s %14s\n", "store", "raw tx/s", "commands/s", "raw again", "ratio", "http cmds/s")
	for _, r := range rows {
		fmt.Println(r)
	}
	fmt.Println("\nratio = commands/s over the mean of both raw runs; target 40% or more.")
}

// run measures one store and returns its row of the summary table.
func run(ctx context.Context, s benchkit.Store, conc int, d time.Duration) string {
	name, st, write, read := s.Name, s.Events, s.Write, s.Read
	pk := "INTEGER PRIMARY KEY"
	if name == "postgres" {
		pk = "BIGSERIAL PRIMARY KEY"
	}
	if _, err := write.ExecContext(ctx, "CREATE TABLE bench_raw (id "+pk+", payload TEXT NOT NULL)"); err != nil {
		log.Fatal(err)
	}
	access := sqlstore.NewAccess(write, read)
	as, err := access.CreateAppspace(ctx, "bench")
	if err != nil {
		log.Fatal(err)
	}
	svc := domain.NewService(st, domain.ServiceConfig{})

	raw1 := measure(name, "raw", conc, d, func(w, i int) error { return rawInsert(ctx, write, w, i) })
	cmds := measure(name, "commands", conc, d, func(w, i int) error { return commandPair(ctx, svc, as.ID, "svc", w, i) })
	raw2 := measure(name, "raw again", conc, d, func(w, i int) error { return rawInsert(ctx, write, w, i) })

	_, key, err := access.CreateKey(ctx, as.ID, domain.RoleServer, "bench")
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(svc, access, slog.New(slog.NewTextHandler(io.Discard, nil)), httpapi.Config{}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc * 2}}
	httpRate := measure(name, "http", conc, d, func(w, i int) error { return httpPair(client, srv.URL, key, w, i) })

	base := (raw1 + raw2) / 2
	return fmt.Sprintf("%-9s %12.0f %14.0f %14.0f %7.0f%% %14.0f", name, raw1, cmds, raw2, 100*cmds/base, httpRate)
}

// measure runs op from conc workers for d and returns calls per second.
func measure(store, name string, conc int, d time.Duration, op func(worker, i int) error) float64 {
	var done atomic.Int64
	var wg sync.WaitGroup
	pg0, self0 := benchkit.Postgres(), benchkit.Self()
	defer func() {
		n := float64(done.Load())
		fmt.Printf("%-9s %-10s CPU per call: postgres %4.0f us, this process %4.0f us\n",
			store, name, (benchkit.Postgres()-pg0).Seconds()*1e6/n, (benchkit.Self()-self0).Seconds()*1e6/n)
	}()
	deadline := time.Now().Add(d)
	start := time.Now()
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				if err := op(w, i); err != nil {
					log.Fatal(err)
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(done.Load()) / time.Since(start).Seconds()
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

// httpPair is commandPair over HTTP.
func httpPair(client *http.Client, base, key string, w, i int) error {
	referrer := fmt.Sprintf("http-%d-%d-%d", runID, w, i/2)
	if i%2 == 0 {
		var out struct {
			ReferralCode string `json:"referral_code"`
		}
		if err := post(client, base+"/v1/api/referral/create", key, fmt.Sprintf(`{"user_id":%q}`, referrer), &out); err != nil {
			return err
		}
		lastCode.Store(fmt.Sprint("http", w), out.ReferralCode)
		return nil
	}
	code, _ := lastCode.Load(fmt.Sprint("http", w))
	body := fmt.Sprintf(`{"referral_code":%q,"milestone":"signed_up","referred_user_id":%q}`, code, "friend-of-"+referrer)
	return post(client, base+"/v1/api/referral/milestone", key, body, nil)
}

func post(client *http.Client, u, key, body string, out any) error {
	req, err := http.NewRequest("POST", u, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", key)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %d %s", u, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}
