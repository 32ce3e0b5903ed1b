package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/referral-ledger/referral-ledger/adapters/sqlite"
	"github.com/referral-ledger/referral-ledger/domain/eventstoretest"
)

func newStore(tb testing.TB) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(tb.TempDir(), "ledger.db")})
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	eventstoretest.Run(t, func(tb testing.TB) eventstoretest.Harness {
		return eventstoretest.Harness{Store: newStore(tb)}
	})
}

func TestImport(t *testing.T) {
	eventstoretest.RunImport(t, func(tb testing.TB) eventstoretest.Importer { return newStore(tb) })
}
