package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Invariants 1 and 7: a command acknowledged with 2xx is in the event log,
// whatever crashes afterwards, and the read models equal a replay of the
// log. Clients stream creates and milestones while the server is killed
// with SIGKILL; after each restart every acknowledged command's effect is
// there, and at the end the projection (which was killed mid-batch too)
// matches the streams.
func TestAcknowledgedCommandsSurviveSIGKILL(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	for _, profile := range serveProfiles {
		t.Run(profile.name, func(t *testing.T) {
			t.Parallel()
			env := append(profile.env(t), "LEDGER_RATE_LIMIT=0") // every command should reach the store
			addr := freeAddr(t)
			srv, key := startServeEnv(t, bin, env, addr)
			acked := map[string]string{}    // code -> referrer
			attributed := map[string]bool{} // codes whose milestone was acknowledged
			for round := range 3 {
				codes, milestones := load(t, addr, key, round, 400*time.Millisecond, func() {
					if err := srv.Process.Kill(); err != nil { // SIGKILL
						t.Error(err)
					}
				})
				_ = srv.Wait()
				for c, r := range codes {
					acked[c] = r
				}
				for c := range milestones {
					attributed[c] = true
				}
				srv = restartServe(t, bin, env, addr)
				for code, referrer := range acked {
					got := getReferral(t, addr, key, code)
					if got == nil || got["referrer_id"] != referrer {
						t.Fatalf("round %d: acknowledged referral %s of %s is gone: %v", round, code, referrer, got)
					}
					if attributed[code] && len(got["milestone_history"].([]any)) != 1 {
						t.Fatalf("round %d: acknowledged milestone of %s is gone: %v", round, code, got)
					}
				}
			}
			compareReadModels(t, addr, key, acked)
			if len(acked) == 0 || len(attributed) == 0 {
				t.Fatalf("no command was acknowledged before the kills (%d creates, %d milestones)", len(acked), len(attributed))
			}
			t.Logf("%d creates and %d milestones acknowledged across 3 kills, all present", len(acked), len(attributed))
			stopServe(t, srv)
		})
	}
}

// ackDeadline bounds the wait for a round's first acknowledged milestone.
// It is generous on purpose: a busy machine may take seconds for the first
// commands after a restart, and the test checks that they survive, not
// how fast they come.
const ackDeadline = 60 * time.Second

// load runs 8 clients issuing creates then milestones, and calls kill
// once at least d has passed and a milestone (so its create too) has been
// acknowledged in this round, so every kill lands among commands in
// flight with some already acknowledged. It returns what the server
// acknowledged.
func load(t *testing.T, addr, key string, round int, d time.Duration, kill func()) (codes map[string]string, milestones map[string]bool) {
	var mu sync.Mutex
	codes, milestones = map[string]string{}, map[string]bool{}
	firstAck := make(chan struct{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				referrer := fmt.Sprintf("r%d-w%d-%d", round, w, i)
				var created struct {
					ReferralCode string `json:"referral_code"`
				}
				if post(addr, key, "/v1/api/referral/create", map[string]any{"user_id": referrer}, &created) != nil {
					continue // the server is down; keep trying until told to stop
				}
				mu.Lock()
				codes[created.ReferralCode] = referrer
				mu.Unlock()
				body := map[string]any{"referral_code": created.ReferralCode, "milestone": "signed_up", "referred_user_id": "friend-" + referrer}
				if post(addr, key, "/v1/api/referral/milestone", body, nil) == nil {
					mu.Lock()
					if len(milestones) == 0 {
						close(firstAck)
					}
					milestones[created.ReferralCode] = true
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(d)
	select {
	case <-firstAck:
	case <-time.After(ackDeadline):
		t.Errorf("round %d: no milestone was acknowledged within %v", round, ackDeadline)
	}
	kill()
	time.Sleep(50 * time.Millisecond) // let clients see the dead server
	close(stop)
	wg.Wait()
	return codes, milestones
}

// compareReadModels waits for the referrals projection to catch up after
// the crashes, then checks invariant 7: every referral in the read model
// equals the referral's state replayed from its stream (GET reads the
// stream), every acknowledged referral is listed, and the stats equal
// counts over those replayed states.
func compareReadModels(t *testing.T, addr, key string, acked map[string]string) {
	t.Helper()
	var listed []map[string]any
	for deadline := time.Now().Add(60 * time.Second); ; {
		listed = listAll(t, addr, key)
		if complete(listed, acked) && lagZero(t, addr) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the read model never caught up: %d listed, %d acknowledged", len(listed), len(acked))
		}
		time.Sleep(100 * time.Millisecond)
	}
	byStatus := map[string]float64{}
	for _, row := range listed {
		code := row["referral_code"].(string)
		replayed := getReferral(t, addr, key, code)
		a, _ := json.Marshal(row)
		b, _ := json.Marshal(replayed)
		if !bytes.Equal(a, b) {
			t.Errorf("read model and replay differ for %s:\n read model %s\n replay     %s", code, a, b)
		}
		byStatus[row["status"].(string)]++
	}
	var stats map[string]any
	if err := get(addr, key, "/v1/api/referral/stats", &stats); err != nil {
		t.Fatal(err)
	}
	if stats["total"] != float64(len(listed)) || stats["pending"] != byStatus["pending"] || stats["completed"] != byStatus["completed"] {
		t.Errorf("stats %v, replayed counts %v of %d", stats, byStatus, len(listed))
	}
}

func complete(listed []map[string]any, acked map[string]string) bool {
	seen := map[string]bool{}
	for _, row := range listed {
		seen[row["referral_code"].(string)] = true
	}
	for code := range acked {
		if !seen[code] {
			return false
		}
	}
	return true
}

func lagZero(t *testing.T, addr string) bool {
	t.Helper()
	resp, err := crashClient.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return bytes.Contains(body, []byte(`ledger_projection_lag_seconds{projection="referrals"} 0`+"\n"))
}

func listAll(t *testing.T, addr, key string) []map[string]any {
	t.Helper()
	var all []map[string]any
	cursor := ""
	for {
		var page struct {
			Referrals  []map[string]any `json:"referrals"`
			NextCursor *string          `json:"next_cursor"`
		}
		if err := get(addr, key, "/v1/api/referrals?limit=500&cursor="+cursor, &page); err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Referrals...)
		if page.NextCursor == nil {
			return all
		}
		cursor = *page.NextCursor
	}
}

func get(addr, key, path string, out any) error {
	req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
	req.Header.Set("X-API-Key", key)
	resp, err := crashClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d", path, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

var crashClient = &http.Client{Timeout: 5 * time.Second}

// post sends a command; an error means it was not acknowledged with 200.
func post(addr, key, path string, body, out any) error {
	return postWant(addr, key, path, body, out, http.StatusOK)
}

// postWant sends a request and decodes the answer into out (if not nil);
// an error means the status was not want.
func postWant(addr, key, path string, body, out any, want int) error {
	raw, _ := json.Marshal(body)
	req, err := http.NewRequest("POST", "http://"+addr+path, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("X-API-Key", key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := crashClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s: %d %s, want %d", path, resp.StatusCode, data, want)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func getReferral(t *testing.T, addr, key, code string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+"/v1/api/referral/"+code, nil)
	req.Header.Set("X-API-Key", key)
	resp, err := crashClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// startServeEnv runs serve with env on a fresh store and returns the key
// it printed.
func startServeEnv(t *testing.T, bin string, env []string, addr string) (*exec.Cmd, string) {
	t.Helper()
	return startServeIn(t, bin, t.TempDir(), addr, env...)
}

// restartServe runs serve again on the same store.
func restartServe(t *testing.T, bin string, env []string, addr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Dir, cmd.Env = t.TempDir(), append(append(os.Environ(), "LEDGER_ADDR="+addr), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGKILL) })
	waitHealthy(t, addr)
	return cmd
}
