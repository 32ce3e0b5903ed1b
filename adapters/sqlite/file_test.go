package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/sqlite"
	"github.com/referral-ledger/referral-ledger/domain"
)

func openPath(tb testing.TB, path string) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return s
}

func event(id string) domain.EventData {
	return domain.EventData{ID: id, Type: "TestEvent", Data: []byte(`{}`)}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		path  string
		valid bool
	}{
		{name: "file", path: "/tmp/ledger.db", valid: true},
		{name: "relative", path: "ledger.db", valid: true},
		{name: "empty", path: ""},
		{name: "memory", path: ":memory:"},
		{name: "uri", path: "file:ledger.db"},
		{name: "query", path: "ledger.db?mode=ro"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := sqlite.Config{Path: tc.path}.Validate()
			if got, want := err == nil, tc.valid; got != want {
				t.Errorf("Validate(%q): got %v, want valid=%v", tc.path, err, want)
			}
		})
	}
}

func TestPragmas(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name, pragma string
		read         bool
		want         string
	}{
		{name: "writer journal", pragma: "journal_mode", want: "wal"},
		{name: "writer synchronous", pragma: "synchronous", want: "2"}, // FULL
		{name: "writer foreign keys", pragma: "foreign_keys", want: "1"},
		{name: "writer busy timeout", pragma: "busy_timeout", want: "10000"},
		{name: "reader journal", pragma: "journal_mode", read: true, want: "wal"},
		{name: "reader query only", pragma: "query_only", read: true, want: "1"},
		{name: "reader busy timeout", pragma: "busy_timeout", read: true, want: "10000"},
	} {
		db := s.WriteDB()
		if tc.read {
			db = s.DB()
		}
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
	if _, err := s.DB().ExecContext(ctx, `CREATE TABLE t (x INTEGER)`); err == nil {
		t.Error("a write through DB(): got no error, want a read-only error")
	}
}

// TestSharedWriter runs another adapter's write transactions on the same
// file while events are appended: none may fail with SQLITE_BUSY.
func TestSharedWriter(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if _, err := s.WriteDB().ExecContext(ctx, `CREATE TABLE other (n INTEGER NOT NULL)`); err != nil {
		t.Fatalf("create table: %v", err)
	}
	const workers, rounds = 4, 25
	errs := make(chan error, 2*workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				tx, err := s.WriteDB().BeginTxx(ctx, nil)
				if err != nil {
					errs <- err
					return
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO other (n) VALUES (?)`, i); err != nil {
					errs <- errors.Join(err, tx.Rollback())
					return
				}
				if err := tx.Commit(); err != nil {
					errs <- err
					return
				}
			}
		})
		wg.Go(func() {
			for i := range rounds {
				_, err := s.Append(ctx, fmt.Sprintf("shared-%d", w), domain.Exact(domain.Revision(i)), event(fmt.Sprintf("shared-%d-%d", w, i)))
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var n int
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM other`).Scan(&n); err != nil || n != workers*rounds {
		t.Errorf("rows written by the other adapter: got %d (%v), want %d", n, err, workers*rounds)
	}
}

// TestTwoProcesses opens the file twice, as two processes would: appends
// through both succeed, and a waiter on one sees the other's appends.
func TestTwoProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	a, b := openPath(t, path), openPath(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	woke := make(chan error, 1)
	go func() { woke <- b.WaitForEvents(ctx, domain.ReadAllOptions{}) }()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for i, s := range []*sqlite.Store{a, b} {
		wg.Go(func() {
			for j := range 20 {
				stream := fmt.Sprintf("proc-%d", i)
				if _, err := s.Append(ctx, stream, domain.Exact(domain.Revision(j)), event(fmt.Sprintf("%s-%d", stream, j))); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("append: %v", err)
	}
	if err := <-woke; err != nil {
		t.Errorf("WaitForEvents: %v", err)
	}
	all, err := a.ReadAll(ctx, domain.ReadAllOptions{})
	if err != nil || len(all) != 40 {
		t.Fatalf("ReadAll: got %d events, %v; want 40", len(all), err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Position <= all[i-1].Position {
			t.Errorf("positions out of order: %d after %d", all[i].Position, all[i-1].Position)
		}
	}
}

func TestEventIDInAnotherStream(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if _, err := s.Append(ctx, "a", domain.NoStream(), event("dup")); err != nil {
		t.Fatalf("append: %v", err)
	}
	_, err := s.Append(ctx, "b", domain.NoStream(), event("dup"))
	if err == nil || errors.Is(err, domain.ErrConcurrency) {
		t.Errorf("append of an ID stored in another stream: got %v, want an error other than ErrConcurrency", err)
	}
	if evs, err := s.ReadStream(ctx, "b", 1, 0); err != nil || len(evs) != 0 {
		t.Errorf("stream b: got %d events, %v; want none", len(evs), err)
	}
}
