package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	_ "github.com/lib/pq"

	"github.com/referral-ledger/referral-ledger/adapters/postgres"
	"github.com/referral-ledger/referral-ledger/adapters/postgres/pgtest"
	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/domain/eventstoretest"
)

// open opens a store on url, closed at the end of the test.
func open(tb testing.TB, url string) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(context.Background(), postgres.Config{URL: url, MaxConns: 20})
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
	pgtest.BaseURL(t)
	eventstoretest.Run(t, func(tb testing.TB) eventstoretest.Harness {
		s := open(tb, pgtest.SchemaURL(tb))
		return eventstoretest.Harness{Store: s, HoldAppend: s.HoldAppend}
	})
}

func TestImport(t *testing.T) {
	pgtest.BaseURL(t)
	eventstoretest.RunImport(t, func(tb testing.TB) eventstoretest.Importer { return open(tb, pgtest.SchemaURL(tb)) })
}

func TestMigrateConcurrently(t *testing.T) {
	url := pgtest.SchemaURL(t)
	const replicas = 4
	errs := make(chan error, replicas)
	for range replicas {
		go func() {
			s, err := postgres.Open(context.Background(), postgres.Config{URL: url})
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	for i := range replicas {
		if err := <-errs; err != nil {
			t.Errorf("replica %d: %v", i, fmt.Errorf("open: %w", err))
		}
	}
}

func TestEventIDInAnotherStream(t *testing.T) {
	s := open(t, pgtest.SchemaURL(t))
	ctx := context.Background()
	ev := domain.EventData{ID: "dup", Type: "TestEvent", Data: []byte(`{}`)}
	if _, err := s.Append(ctx, "a", domain.NoStream(), ev); err != nil {
		t.Fatalf("append: %v", err)
	}
	_, err := s.Append(ctx, "b", domain.NoStream(), ev)
	if err == nil || errors.Is(err, domain.ErrConcurrency) {
		t.Errorf("append of an ID stored in another stream: got %v, want an error other than ErrConcurrency", err)
	}
	if evs, err := s.ReadStream(ctx, "b", 1, 0); err != nil || len(evs) != 0 {
		t.Errorf("stream b: got %d events, %v; want none", len(evs), err)
	}
}

// TestSchemasAreSeparate opens two stores in two schemas of one database:
// each has its own log.
func TestSchemasAreSeparate(t *testing.T) {
	a, b := open(t, pgtest.SchemaURL(t)), open(t, pgtest.SchemaURL(t))
	ctx := context.Background()
	for i, s := range []*postgres.Store{a, b} {
		ev := domain.EventData{ID: fmt.Sprintf("ev-%d", i), Type: "TestEvent"}
		if _, err := s.Append(ctx, "same", domain.NoStream(), ev); err != nil {
			t.Fatalf("store %d: append: %v", i, err)
		}
	}
	for i, s := range []*postgres.Store{a, b} {
		evs, err := s.ReadStream(ctx, "same", 1, 0)
		if err != nil || len(evs) != 1 || evs[0].ID != fmt.Sprintf("ev-%d", i) {
			t.Errorf("store %d: got %+v, %v; want its own event only", i, evs, err)
		}
	}
}

func TestReadAllUnknownCursor(t *testing.T) {
	s := open(t, pgtest.SchemaURL(t))
	if _, err := s.ReadAll(context.Background(), domain.ReadAllOptions{After: 12345}); err == nil {
		t.Error("ReadAll after a position no event has: got no error")
	}
}

// Appends run the store's prepared ledger_append (one round trip, not the
// two of an unprepared query with arguments): the server counts the plans
// it ran for the statement on the pool's one connection.
func TestAppendRunsPrepared(t *testing.T) {
	ctx := context.Background()
	s, err := postgres.Open(ctx, postgres.Config{URL: pgtest.SchemaURL(t), MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for i := range 3 {
		ev := domain.EventData{ID: domain.NewID(), Type: "Tested", Data: []byte(`{}`)}
		if _, err := s.Append(ctx, fmt.Sprint("as_1:prepared-", i), domain.NoStream(), ev); err != nil {
			t.Fatal(err)
		}
	}
	var runs int
	err = s.DB().GetContext(ctx, &runs, `SELECT COALESCE(sum(generic_plans + custom_plans), 0) FROM pg_prepared_statements WHERE statement LIKE '%ledger_append(%'`)
	if err != nil {
		t.Fatal(err)
	}
	if runs < 3 {
		t.Errorf("the prepared ledger_append ran %d times for 3 appends", runs)
	}
}
