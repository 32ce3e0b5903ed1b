// Package eventstoretest is the conformance suite for domain.EventStore.
// Every event store adapter runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		eventstoretest.Run(t, func(tb testing.TB) eventstoretest.Harness {
//			return eventstoretest.Harness{Store: newStore(tb)}
//		})
//	}
//
// The suite never assumes that the store is empty or private to one test:
// every test uses its own stream names and reads the global log through a
// StreamPrefix of its own, so a store shared by several tests (a server
// such as EventStoreDB) passes as well as a fresh file or schema per test.
// Event IDs are random UUIDs, which every store accepts.
package eventstoretest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

// Harness is what a test of the suite gets from the adapter under test.
type Harness struct {
	// Store is the event store under test. The adapter closes it in
	// tb.Cleanup.
	Store domain.EventStore
	// HoldAppend, when not nil, performs an append inside a transaction and
	// returns before committing it; commit commits (or reports why it could
	// not). It lets the suite commit writers out of order, which is how a
	// global log that orders by a sequence loses events. Stores where
	// appends cannot overlap (SQLite) leave it nil.
	HoldAppend func(ctx context.Context, stream string, expected domain.ExpectedRevision, events ...domain.EventData) (commit func() error, err error)
}

// waitTimeout bounds every wait in the suite. It is generous on purpose:
// the suite checks that things happen, never how fast.
const waitTimeout = 10 * time.Second

// Run runs the conformance suite against the stores that h builds. h is
// called once per test (tests run in parallel) and must return a usable
// store; it registers its own cleanup on tb.
//
// Which cases run depends on what the store declares: the atomic
// two-stream cases (AppendMulti, AppendMultiIdempotent) only on a
// domain.MultiAppender; the stream-by-stream cases (StreamByStream,
// StreamByStreamRetry), which the domain service relies on without one,
// on every store; ReadStreams only on a domain.BatchReader. So no case is skipped: a store runs every case that
// applies to it.
func Run(t *testing.T, h func(tb testing.TB) Harness) {
	probe := h(t).Store
	_, multi := probe.(domain.MultiAppender)
	_, batch := probe.(domain.BatchReader)
	tests := []struct {
		name string
		run  func(t *testing.T, h func(tb testing.TB) Harness)
		// multi marks the cases of domain.MultiAppender, batch those of
		// domain.BatchReader.
		multi, batch bool
	}{
		{"AppendExpectedRevision", testAppendExpectedRevision, false, false},
		{"IdempotentRetry", testIdempotentRetry, false, false},
		{"ReadStream", testReadStream, false, false},
		{"ReadLast", testReadLast, false, false},
		{"ReadAll", testReadAll, false, false},
		{"ReadAllCursors", testReadAllCursors, false, false},
		{"AppendMulti", testAppendMulti, true, false},
		{"AppendMultiIdempotent", testAppendMultiIdempotent, true, false},
		{"StreamByStream", testStreamByStream, false, false},
		{"StreamByStreamRetry", testStreamByStreamRetry, false, false},
		{"WaitForEvents", testWaitForEvents, false, false},
		{"WaitForEventsCancel", testWaitForEventsCancel, false, false},
		{"ConcurrentNoStream", testConcurrentNoStream, false, false},
		{"ConcurrentAny", testConcurrentAny, false, false},
		{"HeldCommitNotSkipped", testHeldCommitNotSkipped, false, false},
		{"HeldConflict", testHeldConflict, false, false},
		{"ConcurrentWritersAndReader", testConcurrentWritersAndReader, false, false},
		{"ReadStreams", testReadStreams, false, true},
	}
	if !multi {
		t.Logf("%T is no domain.MultiAppender: its two-stream commands append stream by stream, "+
			"which StreamByStream and StreamByStreamRetry cover; the AppendMulti cases do not apply", probe)
	}
	for _, tc := range tests {
		if tc.multi && !multi || tc.batch && !batch {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, h)
		})
	}
}

// newID returns a random version 4 UUID, the one ID format every store
// accepts.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newPrefix returns a stream name prefix that no other test uses.
func newPrefix(name string) string {
	return fmt.Sprintf("test%s-%s-", newID()[:8], name)
}

// newEvents returns n events with fresh IDs and distinct JSON payloads.
func newEvents(n int) []domain.EventData {
	evs := make([]domain.EventData, n)
	for i := range evs {
		id := newID()
		evs[i] = domain.EventData{
			ID:       id,
			Type:     "TestEvent",
			Data:     fmt.Appendf(nil, `{"n": %d, "id": %q}`, i, id),
			Metadata: []byte(`{"source":"eventstoretest"}`),
		}
	}
	return evs
}

func ctxFor(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitTimeout)
	tb.Cleanup(cancel)
	return ctx
}

// mustAppend appends and fails the test on error.
func mustAppend(tb testing.TB, s domain.EventStore, stream string, expected domain.ExpectedRevision, evs ...domain.EventData) domain.AppendResult {
	tb.Helper()
	res, err := s.Append(ctxFor(tb), stream, expected, evs...)
	if err != nil {
		tb.Fatalf("Append(%s, %v): %v", stream, expected, err)
	}
	return res
}

// mustReadStream reads a whole stream and fails the test on error.
func mustReadStream(tb testing.TB, s domain.EventStore, stream string) []domain.RecordedEvent {
	tb.Helper()
	evs, err := s.ReadStream(ctxFor(tb), stream, 1, 1<<20)
	if err != nil {
		tb.Fatalf("ReadStream(%s): %v", stream, err)
	}
	return evs
}

// readUntil follows the global log from opts.After, filtered by
// opts.StreamPrefix, until it has seen want events, waiting for new ones as
// a live reader does. Events may become visible a moment after their append
// returned (PostgreSQL gates them until older transactions end).
func readUntil(tb testing.TB, s domain.EventStore, opts domain.ReadAllOptions, want int) []domain.RecordedEvent {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var got []domain.RecordedEvent
	for {
		evs, err := s.ReadAll(ctx, opts)
		if err != nil {
			tb.Fatalf("ReadAll(%+v) after %d events: %v", opts, len(got), err)
		}
		got = append(got, evs...)
		if len(evs) > 0 {
			opts.After = evs[len(evs)-1].Position
		}
		if len(got) >= want {
			return got
		}
		if len(evs) > 0 {
			continue
		}
		if err := s.WaitForEvents(ctx, opts); err != nil {
			tb.Fatalf("waiting for %d events with prefix %q, got %d: %v", want, opts.StreamPrefix, len(got), err)
		}
	}
}

// ids returns the IDs of evs in order.
func ids[E domain.EventData | domain.RecordedEvent](evs []E) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		switch e := any(e).(type) {
		case domain.EventData:
			out[i] = e.ID
		case domain.RecordedEvent:
			out[i] = e.ID
		}
	}
	return out
}

// checkConflict fails unless err is a concurrency conflict.
func checkConflict(tb testing.TB, err error, what string) {
	tb.Helper()
	if !errors.Is(err, domain.ErrConcurrency) {
		tb.Errorf("%s: got error %v, want ErrConcurrency", what, err)
	}
}
