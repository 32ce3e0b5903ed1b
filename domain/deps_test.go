package domain

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const modulePath = "github.com/referral-ledger/referral-ledger"

// TestImportsOnlyStandardLibrary enforces the layering of
// docs/architecture.md: domain imports only the standard library, and so
// does its conformance suite, domain/eventstoretest
// (with its FaultStore), which every adapter's tests import. A path whose
// first element has a dot is outside it (std's own vendored golang.org/x
// packages are listed as "vendor/golang.org/..."). The module's own packages
// are allowed.
func TestImportsOnlyStandardLibrary(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".", "./eventstoretest").Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("go list -deps . ./eventstoretest: %v\n%s", err, exit.Stderr)
		}
		t.Fatalf("go list -deps . ./eventstoretest: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, p := range []string{"/domain", "/domain/eventstoretest"} {
		if !slices.Contains(deps, modulePath+p) {
			t.Fatalf("go list -deps did not list %s itself; got %v", modulePath+p, deps)
		}
	}
	for _, p := range deps {
		if p == modulePath || strings.HasPrefix(p, modulePath+"/") {
			continue
		}
		if first, _, _ := strings.Cut(p, "/"); strings.Contains(first, ".") {
			t.Errorf("domain or eventstoretest depends on %s, which is outside the standard library", p)
		}
	}
}
