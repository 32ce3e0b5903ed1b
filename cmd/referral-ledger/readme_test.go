package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestREADMEWalkthrough is the newcomer's path: the README's run command on
// a fresh directory serves the API on the embedded store, prints a server
// key once, and the README's curl walk-through works as written.
func TestREADMEWalkthrough(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the walk-through needs %s: %v", tool, err)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```sh\ngo run ./cmd/referral-ledger serve\n```") {
		t.Fatal("README's quick start no longer runs `go run ./cmd/referral-ledger serve`: update this test")
	}
	bin := buildBinary(t)
	dir := t.TempDir() // a fresh "clone": no data directory yet
	addr := freeAddr(t)

	srv, key := startServe(t, bin, dir, addr)
	script := walkthrough(t, string(readme))
	runWalkthrough(t, script, addr, key)
	for _, c := range [][2]string{
		{"/readyz", `"ready":true`},
		{"/metrics", `ledger_http_requests_total{code="200",route="POST /v1/api/referral/milestone"} 2`},
		{"/metrics", "ledger_webhook_queue_depth 0"},
		{"/metrics", "ledger_webhook_oldest_due_seconds 0"},
	} {
		path, want := c[0], c[1]
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d, body lacks %s", path, resp.StatusCode, want)
		}
	}
	stopServe(t, srv)

	// A second start on the same data prints no new key.
	var stdout strings.Builder
	srv2 := exec.Command(bin, "serve")
	srv2.Dir, srv2.Env, srv2.Stdout = dir, append(os.Environ(), "LEDGER_ADDR="+addr), &stdout
	if err := srv2.Start(); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, addr)
	stopServe(t, srv2)
	if strings.Contains(stdout.String(), "rlk_") {
		t.Errorf("second start printed a key again: %q", stdout.String())
	}
}

func buildBinary(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "referral-ledger")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

var keyLine = regexp.MustCompile(`^\s*(rlk_\S+)\s*$`)

// startServe runs `serve` in dir and returns it with the key it printed.
func startServe(tb testing.TB, bin, dir, addr string) (*exec.Cmd, string) {
	tb.Helper()
	return startServeIn(tb, bin, dir, addr)
}

// startServeIn runs `serve` in dir with extra environment and returns it
// with the key it printed on its first start.
func startServeIn(tb testing.TB, bin, dir, addr string, env ...string) (*exec.Cmd, string) {
	tb.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Dir, cmd.Env = dir, append(append(os.Environ(), "LEDGER_ADDR="+addr), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = cmd.Process.Kill() })
	keys := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := keyLine.FindStringSubmatch(sc.Text()); m != nil {
				keys <- m[1]
			}
		}
	}()
	select {
	case key := <-keys:
		waitHealthy(tb, addr)
		return cmd, key
	case <-time.After(60 * time.Second):
		tb.Fatal("serve printed no key")
	}
	return nil, ""
}

func waitHealthy(tb testing.TB, addr string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatalf("serve on %s never became healthy", addr)
}

// stopServe sends SIGTERM and expects a clean exit.
func stopServe(tb testing.TB, cmd *exec.Cmd) {
	tb.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			tb.Errorf("serve exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		tb.Fatal("serve did not stop after SIGTERM")
	}
}

// walkthrough returns the README's walk-through commands: the sh blocks of
// its "Walk-through" section, less the one that sets the variables.
func walkthrough(tb testing.TB, readme string) string {
	tb.Helper()
	_, section, ok := strings.Cut(readme, "## Walk-through")
	if !ok {
		tb.Fatal("README has no Walk-through section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var script []string
	for _, block := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(section, -1) {
		if strings.Contains(block[1], "export LEDGER_KEY=") {
			continue // the test sets the variables itself
		}
		script = append(script, block[1])
	}
	if len(script) == 0 {
		tb.Fatal("README's Walk-through has no commands")
	}
	return strings.Join(script, "\n")
}

// runWalkthrough runs the README's walk-through script against the server
// at addr with key, and checks what the walk-through must show.
func runWalkthrough(t *testing.T, script, addr, key string) {
	t.Helper()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Env = append(os.Environ(), "LEDGER_URL=http://"+addr, "LEDGER_KEY="+key)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("walk-through failed: %v\n%s", err, out)
	}
	for _, want := range []string{`"status":"completed"`, `"reward_claimed":true`, `"referee_reward_claimed":true`,
		`"reward_value":"$5"`, `[6,"RewardClaimed"]`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("walk-through output lacks %s:\n%s", want, out)
		}
	}
}
