package main

import (
	"os"
	"os/exec"
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
			runWalkthrough(t, script, addr, key)
			stopServe(t, srv)
		})
	}
}
