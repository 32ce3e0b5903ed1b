// Package crashrepair_test shows that the domain service's two-stream
// commands survive a crash between their appends on every store: on
// EventStoreDB, which has no multi-stream transaction, and on SQLite and
// PostgreSQL with theirs hidden, so that the service appends stream by
// stream there too. The next command repairs the state and no invariant
// (docs/architecture.md) breaks. The
// protocol is the domain service's (docs/decisions.md, "Two-stream
// commands"); eventstoretest.FaultStore breaks the commands.
package crashrepair_test

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/eventstoredb"
	"github.com/referral-ledger/referral-ledger/adapters/eventstoredb/esdbtest"
	"github.com/referral-ledger/referral-ledger/adapters/postgres"
	"github.com/referral-ledger/referral-ledger/adapters/postgres/pgtest"
	"github.com/referral-ledger/referral-ledger/adapters/sqlite"
	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/domain/eventstoretest"
)

// opener opens the store of one test anew, as a restarted process does.
type opener func() (domain.EventStore, func() error, error)

// forEachStore runs f as a parallel subtest on SQLite in a temp dir, on
// PostgreSQL in a fresh schema and on EventStoreDB: the server that
// LEDGER_TEST_EVENTSTORE_URL names, or an emulated one (esdbtest) that
// outlives the node's restarts as a server does.
func forEachStore(t *testing.T, f func(t *testing.T, n *node)) {
	t.Helper()
	stores := map[string]func(tb testing.TB) opener{
		"sqlite": func(tb testing.TB) opener {
			path := filepath.Join(tb.TempDir(), "ledger.db")
			return func() (domain.EventStore, func() error, error) {
				st, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
				if err != nil {
					return nil, nil, err
				}
				return st, st.Close, nil
			}
		},
		"postgres": func(tb testing.TB) opener {
			url := pgtest.SchemaURL(tb)
			return func() (domain.EventStore, func() error, error) {
				st, err := postgres.Open(context.Background(), postgres.Config{URL: url})
				if err != nil {
					return nil, nil, err
				}
				return st, st.Close, nil
			}
		},
		"eventstoredb": func(tb testing.TB) opener {
			url := os.Getenv("LEDGER_TEST_EVENTSTORE_URL")
			if url == "" {
				url = esdbtest.Start(tb).URL()
			}
			return func() (domain.EventStore, func() error, error) {
				st, err := eventstoredb.Open(context.Background(), eventstoredb.Config{URL: url})
				if err != nil {
					return nil, nil, err
				}
				return st, st.Close, nil
			}
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, newNode(t, open(t)))
		})
	}
}

// node is one process of the ledger over a store: it can die and restart.
type node struct {
	tb    testing.TB
	open  opener
	store domain.EventStore
	close func() error
	space string

	mu     sync.Mutex
	offset time.Duration
}

func newNode(tb testing.TB, open opener) *node {
	n := &node{tb: tb, open: open, space: "as_" + strings.ToLower(rand.Text()[:10])}
	n.start()
	tb.Cleanup(func() {
		if err := n.close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	return n
}

func (n *node) start() {
	n.tb.Helper()
	st, closeFn, err := n.open()
	if err != nil {
		n.tb.Fatalf("open store: %v", err)
	}
	n.store, n.close = st, closeFn
}

// restart closes the store and opens it again: what survived is what the
// store made durable.
func (n *node) restart() {
	n.tb.Helper()
	if err := n.close(); err != nil {
		n.tb.Fatalf("close store: %v", err)
	}
	n.start()
}

func (n *node) now() time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	return time.Now().Add(n.offset)
}

// advance moves the services' clock forward.
func (n *node) advance(d time.Duration) {
	n.mu.Lock()
	n.offset += d
	n.mu.Unlock()
}

// never matches no stream: a FaultStore with it only hides MultiAppender.
func never(string) bool { return false }

// service returns a fresh service over the store, appending stream by
// stream (no MultiAppender), as on EventStoreDB.
func (n *node) service() *domain.Service {
	return n.serviceOver(eventstoretest.NewFaultStore(n.store, eventstoretest.FailNext, never))
}

func (n *node) serviceOver(st domain.EventStore) *domain.Service {
	return domain.NewService(st, domain.ServiceConfig{Now: n.now})
}

func (n *node) origin() domain.Origin { return domain.Origin{AppspaceID: n.space, RequestID: "req"} }

// category returns a trigger that matches the streams of one category of
// the node's appspace ("referrer", "referee", ...).
func (n *node) category(c string) func(string) bool {
	return func(stream string) bool { return strings.HasPrefix(stream, n.space+":"+c+":") }
}

// setCap sets referral_max_per_user.
func (n *node) setCap(max int) {
	n.tb.Helper()
	_, err := n.service().UpdateSettings(context.Background(), n.origin(), func(s *domain.Settings) error {
		s.ReferralMaxPerUser = &max
		return nil
	})
	if err != nil {
		n.tb.Fatalf("set referral_max_per_user: %v", err)
	}
}

// log reads the appspace's whole log. PostgreSQL may show an event in the
// log a moment after its append returned (while an older transaction is
// open), so log appends a barrier event and reads until it sees it: every
// append that returned before is then readable. Barriers are left out.
func (n *node) log() []domain.RecordedEvent {
	n.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	barrier := domain.EventData{ID: domain.NewID(), Type: "Barrier", Data: []byte(`{}`)}
	if _, err := n.store.Append(ctx, n.space+":barrier", domain.Any(), barrier); err != nil {
		n.tb.Fatalf("append a barrier: %v", err)
	}
	var all []domain.RecordedEvent
	opts := domain.ReadAllOptions{StreamPrefix: domain.StreamPrefix(n.space)}
	for {
		evs, err := n.store.ReadAll(ctx, opts)
		if err != nil {
			n.tb.Fatalf("ReadAll: %v", err)
		}
		for _, e := range evs {
			if e.ID == barrier.ID {
				return all
			}
			if e.Type != barrier.Type {
				all = append(all, e)
			}
			opts.After = e.Position
		}
		if len(evs) == 0 {
			if err := n.store.WaitForEvents(ctx, opts); err != nil {
				n.tb.Fatalf("waiting for the barrier: %v", err)
			}
		}
	}
}

// fault is one way a command breaks between its appends, and the error
// the command then returns.
type fault struct {
	name  string
	fault eventstoretest.Fault
	want  error
}

// forEachFault runs f as a parallel subtest for each fault on each store.
func forEachFault(t *testing.T, f func(t *testing.T, fc fault, n *node)) {
	t.Helper()
	for _, fc := range []fault{
		{name: "fail", fault: eventstoretest.FailNext, want: eventstoretest.ErrInjected},
		{name: "stop", fault: eventstoretest.Stop, want: eventstoretest.ErrStopped},
	} {
		t.Run(fc.name, func(t *testing.T) {
			t.Parallel()
			forEachStore(t, func(t *testing.T, n *node) { f(t, fc, n) })
		})
	}
}
