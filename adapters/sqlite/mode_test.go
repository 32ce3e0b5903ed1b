package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/referral-ledger/referral-ledger/domain"
)

// TestFilesArePrivate: the log holds every appspace's data, so the
// database and its WAL and shared-memory files are the owner's alone,
// whatever the umask, and an older file made with a looser mode is
// tightened.
func TestFilesArePrivate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing os.FileMode // 0: the file does not exist yet
	}{
		{name: "new file"},
		{name: "existing world-readable file", existing: 0o644},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ledger.db")
			if tc.existing != 0 {
				if err := os.WriteFile(path, nil, tc.existing); err != nil {
					t.Fatal(err)
				}
			}
			s := openPath(t, path)
			if _, err := s.Append(context.Background(), "a:s", domain.Any(), event(domain.NewID())); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{path, path + "-wal", path + "-shm"} {
				fi, err := os.Stat(name)
				if err != nil {
					t.Fatal(err)
				}
				if got := fi.Mode().Perm(); got != 0o600 {
					t.Errorf("%s: mode %#o, want 0600", filepath.Base(name), got)
				}
			}
		})
	}
}
