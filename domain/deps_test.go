package domain

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const modulePath = "github.com/referral-ledger/referral-ledger"

// TestImportsOnlyStandardLibrary enforces STYLE.md: domain imports only the
// standard library. A path whose first element has a dot is outside it (std's
// own vendored golang.org/x packages are listed as "vendor/golang.org/...").
// The module's own packages are allowed.
func TestImportsOnlyStandardLibrary(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("go list -deps .: %v\n%s", err, exit.Stderr)
		}
		t.Fatalf("go list -deps .: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, modulePath+"/domain") {
		t.Fatalf("go list -deps . did not list the domain package itself; got %v", deps)
	}
	for _, p := range deps {
		if p == modulePath || strings.HasPrefix(p, modulePath+"/") {
			continue
		}
		if first, _, _ := strings.Cut(p, "/"); strings.Contains(first, ".") {
			t.Errorf("domain depends on %s, which is outside the standard library", p)
		}
	}
}
