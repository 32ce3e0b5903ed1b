package eventstoredb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/referral-ledger/referral-ledger/adapters/eventstoredb/esdbtest"
	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/domain/eventstoretest"
)

// envVar names the server the conformance suite runs against.
const envVar = "LEDGER_TEST_EVENTSTORE_URL"

// TestConformance runs the event store contract against the server that
// LEDGER_TEST_EVENTSTORE_URL names (esdb://localhost:2113?tls=false), or,
// without it, against the in-process emulation of esdbtest. The suite's
// streams have random names, so a server shared with other runs is fine.
// On the emulation the suite can also hold an append in the server's
// queue (HoldAppend), which a real server offers no hook for.
func TestConformance(t *testing.T) {
	url := os.Getenv(envVar)
	var srv *esdbtest.Server
	if url == "" {
		srv = esdbtest.Start(t)
		url = srv.URL()
	}
	eventstoretest.Run(t, func(tb testing.TB) eventstoretest.Harness {
		s, err := Open(context.Background(), Config{URL: url})
		if err != nil {
			tb.Fatalf("EventStoreDB at %s: %v", url, err)
		}
		tb.Cleanup(func() {
			if err := s.Close(); err != nil {
				tb.Errorf("close: %v", err)
			}
		})
		h := eventstoretest.Harness{Store: s}
		if srv != nil {
			h.HoldAppend = holdAppend(srv, s)
		}
		return h
	})
}

// TestImport runs the import tests on the server of TestConformance: an
// imported event's recorded time comes back from its metadata envelope.
func TestImport(t *testing.T) {
	url := os.Getenv(envVar)
	if url == "" {
		url = esdbtest.Start(t).URL()
	}
	eventstoretest.RunImport(t, func(tb testing.TB) eventstoretest.Importer {
		s, err := Open(context.Background(), Config{URL: url})
		if err != nil {
			tb.Fatalf("EventStoreDB at %s: %v", url, err)
		}
		tb.Cleanup(func() {
			if err := s.Close(); err != nil {
				tb.Errorf("close: %v", err)
			}
		})
		return s
	})
}

// holdAppend sends an append that the emulated server holds once it has
// received it; commit lets the server go on and returns the append's
// error.
func holdAppend(srv *esdbtest.Server, s *Store) func(ctx context.Context, stream string, expected domain.ExpectedRevision, events ...domain.EventData) (func() error, error) {
	return func(ctx context.Context, stream string, expected domain.ExpectedRevision, events ...domain.EventData) (func() error, error) {
		received, release := srv.Faults().HoldAppend(stream)
		done := make(chan error, 1)
		go func() {
			_, err := s.Append(ctx, stream, expected, events...)
			done <- err
		}()
		select {
		case <-received:
		case err := <-done: // refused before the server received it
			release()
			return nil, fmt.Errorf("held append: %w", err)
		}
		return func() error { release(); return <-done }, nil
	}
}

// TestNotMultiAppender: the server has no multi-stream transaction, so the
// domain service must append stream by stream, in its repairable order.
func TestNotMultiAppender(t *testing.T) {
	t.Parallel()
	if _, ok := any(&Store{}).(domain.MultiAppender); ok {
		t.Error("*Store implements domain.MultiAppender; EventStoreDB has no multi-stream transaction")
	}
}

func TestExpectedRevision(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   domain.ExpectedRevision
		want esdb.ExpectedRevision
		wire *api.AppendReq_Options // what the client sends
	}{
		{name: "any", in: domain.Any(), want: esdb.Any{},
			wire: &api.AppendReq_Options{ExpectedStreamRevision: &api.AppendReq_Options_Any{Any: &shared.Empty{}}}},
		{name: "no stream", in: domain.NoStream(), want: esdb.NoStream{},
			wire: &api.AppendReq_Options{ExpectedStreamRevision: &api.AppendReq_Options_NoStream{NoStream: &shared.Empty{}}}},
		{name: "exact 0 is no stream", in: domain.Exact(0), want: esdb.NoStream{},
			wire: &api.AppendReq_Options{ExpectedStreamRevision: &api.AppendReq_Options_NoStream{NoStream: &shared.Empty{}}}},
		{name: "exact 1 is event number 0", in: domain.Exact(1), want: esdb.StreamRevision{Value: 0},
			wire: &api.AppendReq_Options{ExpectedStreamRevision: &api.AppendReq_Options_Revision{Revision: 0}}},
		{name: "exact 7", in: domain.Exact(7), want: esdb.StreamRevision{Value: 6},
			wire: &api.AppendReq_Options{ExpectedStreamRevision: &api.AppendReq_Options_Revision{Revision: 6}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(expectedRevision(tc.in), tc.want); diff != "" {
				t.Errorf("expectedRevision(%v) (-got +want):\n%s", tc.in, diff)
			}
			// Over the wire: the server answers that the batch's last
			// event is event number 9, and holds it at log position 900.
			id := uuid.New()
			f := &fakeServer{
				reply: &api.AppendResp{Result: &api.AppendResp_Success_{Success: &api.AppendResp_Success{
					CurrentRevisionOption: &api.AppendResp_Success_CurrentRevision{CurrentRevision: 9},
					PositionOption:        &api.AppendResp_Success_NoPosition{NoPosition: &shared.Empty{}},
				}}},
				log: []*api.ReadResp_ReadEvent_RecordedEvent{event("s", 9, 900, id, "E")},
			}
			s := startFake(t, f)
			res, err := s.Append(context.Background(), "s", tc.in, domain.EventData{ID: id.String(), Type: "E", Data: []byte(`{}`)})
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if diff := cmp.Diff(res, domain.AppendResult{NextRevision: 10, Position: 900}); diff != "" {
				t.Errorf("AppendResult (-got +want):\n%s", diff)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if len(f.appends) != 1 {
				t.Fatalf("appends received: got %d, want 1", len(f.appends))
			}
			if got, want := f.appends[0].GetExpectedStreamRevision(), tc.wire.GetExpectedStreamRevision(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("expected revision on the wire: got %v, want %v", got, want)
			}
		})
	}
}

func TestAppendConflict(t *testing.T) {
	t.Parallel()
	f := &fakeServer{reply: &api.AppendResp{Result: &api.AppendResp_WrongExpectedVersion_{
		WrongExpectedVersion: &api.AppendResp_WrongExpectedVersion{
			CurrentRevisionOption:  &api.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: 4},
			ExpectedRevisionOption: &api.AppendResp_WrongExpectedVersion_ExpectedRevision{ExpectedRevision: 2},
		}}}}
	s := startFake(t, f)
	_, err := s.Append(context.Background(), "s", domain.Exact(3), domain.EventData{ID: uuid.NewString(), Type: "E"})
	if !errors.Is(err, domain.ErrConcurrency) {
		t.Fatalf("Append on a wrong expected version: got %v, want ErrConcurrency", err)
	}
	if wrapped := fmt.Errorf("create: %w", err); !errors.Is(wrapped, domain.ErrConcurrency) {
		t.Errorf("wrapped again: got %v, want ErrConcurrency", wrapped)
	}
	// The client's own error stays reachable beside ErrConcurrency.
	var e *esdb.Error
	if !errors.As(err, &e) || e.Code() != esdb.ErrorCodeWrongExpectedVersion {
		t.Errorf("errors.As(*esdb.Error): got %v, want code ErrorCodeWrongExpectedVersion", err)
	}
	f.mu.Lock()
	reads := f.reads
	f.mu.Unlock()
	if reads != 1 { // Open's ping only: a conflict reads nothing back
		t.Errorf("reads: got %d, want 1", reads)
	}
}

// wrapper wraps an error as callers up the stack do.
type wrapper struct{ err error }

func (w wrapper) Error() string { return "wrapped: " + w.err.Error() }
func (w wrapper) Unwrap() error { return w.err }

func TestErrorMapping(t *testing.T) {
	t.Parallel()
	// A client error that is wrapped (by the client itself, by gRPC
	// plumbing, by us) is still recognised: errors.As, not ==.
	wev := realError(t, &api.AppendResp{Result: &api.AppendResp_WrongExpectedVersion_{
		WrongExpectedVersion: &api.AppendResp_WrongExpectedVersion{}}})
	tests := []struct {
		name     string
		err      error
		conflict bool
	}{
		{name: "client error", err: wev, conflict: true},
		{name: "fmt wrapped", err: fmt.Errorf("outer: %w", wev), conflict: true},
		{name: "twice wrapped", err: wrapper{fmt.Errorf("outer: %w", wev)}, conflict: true},
		{name: "joined", err: errors.Join(errors.New("other"), wev), conflict: true},
		{name: "other code", err: esdbErrorOf(errors.New("boom")), conflict: false},
		{name: "plain error naming the code", err: errors.New("ErrorCodeWrongExpectedVersion"), conflict: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := appendError("s", tc.err)
			if got := errors.Is(err, domain.ErrConcurrency); got != tc.conflict {
				t.Errorf("appendError(%v) is ErrConcurrency: got %v, want %v", tc.err, got, tc.conflict)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("appendError(%v) lost the cause: %v", tc.err, err)
			}
		})
	}
}

// realError has the client turn an append reply into its error.
func realError(tb testing.TB, reply *api.AppendResp) error {
	tb.Helper()
	s := startFake(tb, &fakeServer{reply: reply})
	_, err := s.client.AppendToStream(context.Background(), "s", esdb.AppendToStreamOptions{}, esdb.EventData{EventType: "E"})
	if err == nil {
		tb.Fatal("AppendToStream: no error")
	}
	return err
}

// esdbErrorOf is a client error of an unknown kind.
func esdbErrorOf(err error) error {
	e, _ := esdb.FromError(err)
	return e
}
