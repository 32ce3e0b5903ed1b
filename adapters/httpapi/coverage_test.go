package httpapi_test

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"testing"
)

// TestMain runs the package's tests, then, when the whole package ran (no
// -run, -skip or -fuzz), fails unless the tests' traffic exercised every
// operation of the OpenAPI document: an operation the tests never call is
// one the document describes without evidence.
func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if code == 0 && wholePackage() {
		if missing := unexercised(); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: the httpapi tests never call %d operation(s) of the OpenAPI document:\n", len(missing))
			for _, op := range missing {
				fmt.Fprintf(os.Stderr, "  %s\n", op)
			}
			code = 1
		}
	}
	os.Exit(code)
}

// wholePackage reports whether every test of the package was selected.
func wholePackage() bool {
	for _, name := range []string{"test.run", "test.skip", "test.fuzz", "test.list"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return false
		}
	}
	return true
}

// unexercised lists the documented operations no validated request reached.
func unexercised() []string {
	checked.Lock()
	defer checked.Unlock()
	var out []string
	for op := range documentedOperations() {
		if !checked.seen[op] {
			out = append(out, op)
		}
	}
	slices.Sort(out)
	return out
}
