package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestREADMEWalkthroughOnServerProfiles runs the README's curl
// walk-through against serve on the server profiles (PostgreSQL, and
// EventStoreDB beside it); TestREADMEWalkthrough covers the embedded one.
func TestREADMEWalkthroughOnServerProfiles(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the walk-through needs %s: %v", tool, err)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	script := walkthrough(t, string(readme))
	bin := buildBinary(t)
	for _, profile := range serveProfiles {
		if profile.name == "sqlite" {
			continue
		}
		t.Run(profile.name, func(t *testing.T) {
			t.Parallel()
			addr := freeAddr(t)
			srv, key := startServeIn(t, bin, t.TempDir(), addr, profile.env(t)...)
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
			stopServe(t, srv)
		})
	}
}
