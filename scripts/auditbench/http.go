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
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/audit"
	"github.com/referral-ledger/referral-ledger/adapters/httpapi"
	"github.com/referral-ledger/referral-ledger/adapters/sqlstore"
	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/scripts/benchkit"
)

// api is the API on loopback with an auditor key.
type api struct {
	url, key, verifier string
	prover             *audit.Prover
	app                string
	close              func()
}

// serveAPI serves the API (commands, events, audit) on loopback, as serve
// wires it (its key cache too), without a rate limit.
func serveAPI(ctx context.Context, st store, access *sqlstore.Access, key *audit.Key, app string) api {
	_, secret, err := access.CreateKey(ctx, app, domain.RoleAuditor, "auditbench")
	if err != nil {
		log.Fatal(err)
	}
	stopCache, err := benchkit.CacheKeys(ctx, access, st.kit)
	if err != nil {
		log.Fatal(err)
	}
	prover := audit.NewProver(st.read, key)
	svc := domain.NewService(st.events, domain.ServiceConfig{})
	h := httpapi.New(svc, access, slog.New(slog.DiscardHandler), httpapi.Config{Audit: prover})
	srv := httptest.NewServer(h)
	return api{url: srv.URL, key: secret, verifier: key.VerifierKey(), prover: prover, app: app,
		close: func() { srv.Close(); stopCache() }}
}

// proofs times inclusion proofs of the sampled events against the latest
// checkpoint, one request at a time: a round that warms the caches, then
// three timed rounds, each printed (on a shared machine one burst of load
// moves a round's p99), then the prover alone.
func proofs(store string, a api, ids []string) {
	client := &http.Client{Timeout: 10 * time.Second}
	for round := range 4 {
		took := proofRound(client, a, ids)
		if round == 0 {
			continue
		}
		fmt.Printf("%-9s inclusion proof over HTTP, %d events spread over the tree, round %d: p50 %s, p99 %s, max %s (target: p99 < 5 ms)\n",
			store, len(took), round, ms(percentile(took, 0.5)), ms(percentile(took, 0.99)), ms(took[len(took)-1]))
	}
	direct := make([]time.Duration, 0, len(ids))
	for _, id := range ids { // the prover alone (caches warm): without HTTP, JSON and the key check
		start := time.Now()
		if _, err := a.prover.Inclusion(context.Background(), a.app, id, 0); err != nil {
			log.Fatal(err)
		}
		direct = append(direct, time.Since(start))
	}
	slices.Sort(direct)
	fmt.Printf("%-9s inclusion proof, the prover alone: p50 %s, p99 %s\n", store, ms(percentile(direct, 0.5)), ms(percentile(direct, 0.99)))
}

// proofRound requests the inclusion proof of each of ids over HTTP and
// returns how long each took, sorted.
func proofRound(client *http.Client, a api, ids []string) []time.Duration {
	took := make([]time.Duration, 0, len(ids))
	for _, id := range ids {
		start := time.Now()
		req, _ := http.NewRequest(http.MethodGet, a.url+"/v1/api/audit/proofs/inclusion?event_id="+id, nil)
		req.Header.Set("X-API-Key", a.key)
		resp, err := client.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			log.Fatalf("inclusion proof of %s: %d %s", id, resp.StatusCode, body)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	return took
}

// verify runs the binary's audit verify offline (an export and the
// checkpoint) and online (against the API), and compares each with the
// hashing baseline; with old (another build of the binary), old and new
// alternately, rounds times, then their medians.
func verify(ctx context.Context, st store, bins binaries, a api, b base, n int) {
	dir, err := verifyDir(bins.keep, st.name)
	if err != nil {
		log.Fatal(err)
	}
	if bins.keep == "" {
		defer os.RemoveAll(dir)
	}
	export, cp := filepath.Join(dir, "events.jsonl"), filepath.Join(dir, "checkpoint")
	msg, _, err := a.prover.Checkpoint(ctx, a.app)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(cp, msg, 0o600); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "verifier-key"), []byte(a.verifier+"\n"), 0o600); err != nil {
		log.Fatal(err)
	}
	f, err := os.Create(export)
	if err != nil {
		log.Fatal(err)
	}
	took, _ := run(bins.new, st.env, f, "events", "export", "--appspace", "bench")
	f.Close()
	fmt.Printf("%-9s events export of the appspace (not part of verify): %.2f s\n", st.name, took.Seconds())
	modes := []struct {
		name string
		args []string
	}{
		{"offline", []string{"audit", "verify", "--export", export, "--checkpoint", cp, "--verifier-key", a.verifier}},
		{"online", []string{"audit", "verify", "--url", a.url, "--appspace", "bench", "--verifier-key", a.verifier, "--api-key", a.key}},
	}
	builds := []struct{ name, bin string }{{"", bins.new}}
	if bins.old != "" {
		builds = []struct{ name, bin string }{{"old", bins.old}, {"new", bins.new}}
	}
	walls := map[string][]time.Duration{}
	for range max(1, bins.rounds) {
		for _, v := range modes {
			for _, bd := range builds {
				took, cpu := run(bd.bin, nil, io.Discard, v.args...)
				walls[bd.name+" "+v.name] = append(walls[bd.name+" "+v.name], took)
				fmt.Printf("%-9s audit verify %-3s %-7s %.2f s = %.0f events/s, %.2f× the baseline's time (target: ≤ 2×); its CPU %.2f s, %.2f× the baseline's\n",
					st.name, bd.name, v.name, took.Seconds(), float64(n)/took.Seconds(), took.Seconds()/b.hash.Seconds(), cpu.Seconds(), cpu.Seconds()/b.hashCPU.Seconds())
			}
		}
	}
	if bins.rounds > 1 {
		for _, v := range modes {
			for _, bd := range builds {
				ws := walls[bd.name+" "+v.name]
				slices.Sort(ws)
				fmt.Printf("%-9s audit verify %-3s %-7s median of %d: %.2f s, %.2f× the baseline's time\n",
					st.name, bd.name, v.name, len(ws), ws[len(ws)/2].Seconds(), ws[len(ws)/2].Seconds()/b.hash.Seconds())
			}
		}
	}
}

// verifyDir is where verify writes its inputs: keep's subdirectory for
// the store, or a new temporary directory when keep is empty.
func verifyDir(keep, store string) (string, error) {
	if keep == "" {
		return os.MkdirTemp("", "auditbench-verify-")
	}
	dir := filepath.Join(keep, store)
	return dir, os.MkdirAll(dir, 0o700)
}

// run runs the binary with env, its standard output to out, and returns
// how long it took and the CPU time it used; a failure is fatal.
func run(bin string, env []string, out io.Writer, args ...string) (time.Duration, time.Duration) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = out, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		log.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return time.Since(start), cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}
