package ssrf

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsOnlyStandardLibrary keeps the guard reusable: it depends on
// nothing but the standard library, not even the module's own packages (a
// refusal is a *Refusal; the caller gives it a code).
func TestImportsOnlyStandardLibrary(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps .: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "github.com/referral-ledger/referral-ledger/adapters/ssrf" {
			continue
		}
		if first, _, _ := strings.Cut(p, "/"); strings.Contains(first, ".") {
			t.Errorf("ssrf depends on %s, which is outside the standard library", p)
		}
	}
}
