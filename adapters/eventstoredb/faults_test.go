package eventstoredb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/referral-ledger/referral-ledger/adapters/eventstoredb/esdbtest"
	"github.com/referral-ledger/referral-ledger/domain"
)

// emulated returns a store on a fresh emulated server.
func emulated(t *testing.T) (*Store, *esdbtest.Server) {
	t.Helper()
	srv := esdbtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, Config{URL: srv.URL()})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, srv
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// events returns n events with fresh IDs.
func events(n int) []domain.EventData {
	out := make([]domain.EventData, n)
	for i := range out {
		out[i] = domain.EventData{ID: domain.NewID(), Type: "E", Data: fmt.Appendf(nil, `{"i":%d}`, i)}
	}
	return out
}

func ids(evs []domain.RecordedEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func dataIDs(evs []domain.EventData) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

// follower reads the log of prefix as the projection runner does:
// ReadAll from its last position, WaitForEvents when there is nothing.
type follower struct {
	mu   sync.Mutex
	seen []string
}

func (f *follower) run(ctx context.Context, s *Store, prefix string, want int) error {
	opts := domain.ReadAllOptions{StreamPrefix: prefix}
	for {
		evs, err := s.ReadAll(ctx, opts)
		if err != nil {
			return err
		}
		f.mu.Lock()
		for _, e := range evs {
			f.seen = append(f.seen, e.ID)
			opts.After = e.Position
		}
		n := len(f.seen)
		f.mu.Unlock()
		if n >= want {
			return nil
		}
		if len(evs) == 0 {
			if err := s.WaitForEvents(ctx, opts); err != nil {
				return err
			}
		}
	}
}

// waitFor polls cond: the emulator offers no notification of a client's
// resubscription.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestDroppedSubscriptionsResumed: the server drops the follower's
// subscription before each append; the follower resubscribes from its
// position and reads every event once, in order.
func TestDroppedSubscriptionsResumed(t *testing.T) {
	t.Parallel()
	s, srv := emulated(t)
	ctx := testCtx(t)
	evs := events(4)
	f := &follower{}
	done := make(chan error, 1)
	go func() { done <- f.run(ctx, s, "drop-", len(evs)) }()
	for i, e := range evs {
		waitFor(t, "the follower's subscription", func() bool { return srv.Faults().Subscriptions() > 0 })
		if n := srv.Faults().DropSubscriptions(); n == 0 {
			t.Fatal("no subscription to drop")
		}
		if _, err := s.Append(ctx, "drop-s", domain.Exact(domain.Revision(i)), e); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("follower: %v", err)
	}
	if got, want := f.seen, dataIDs(evs); !slices.Equal(got, want) {
		t.Errorf("events seen across dropped subscriptions: got %v, want %v", got, want)
	}
}

// TestRestartResumed: the node restarts while the follower waits; its
// connection breaks, it reconnects and resubscribes, and reads on.
func TestRestartResumed(t *testing.T) {
	t.Parallel()
	s, srv := emulated(t)
	ctx := testCtx(t)
	first, second := events(2), events(3)
	if _, err := s.Append(ctx, "restart-s", domain.NoStream(), first...); err != nil {
		t.Fatal(err)
	}
	f := &follower{}
	done := make(chan error, 1)
	go func() { done <- f.run(ctx, s, "restart-", 5) }()
	waitFor(t, "the follower's subscription", func() bool { return srv.Faults().Subscriptions() > 0 })
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// The first append after the restart may meet the broken connection.
	var err error
	for range 3 {
		if _, err = s.Append(ctx, "restart-s", domain.Exact(2), second...); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("append after the restart: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("follower: %v", err)
	}
	if got, want := f.seen, append(dataIDs(first), dataIDs(second)...); !slices.Equal(got, want) {
		t.Errorf("events seen across a restart: got %v, want %v", got, want)
	}
}

// TestReadAllResumesMidRead: the connection breaks in the middle of pages
// of $all; ReadAll reads on from the last event received and returns each
// event once. Past its few resumes it fails, and the caller's next read
// from its last position loses nothing either.
func TestReadAllResumesMidRead(t *testing.T) {
	t.Parallel()
	s, srv := emulated(t)
	ctx := testCtx(t)
	evs := events(300)
	if _, err := s.Append(ctx, "mid-s", domain.NoStream(), evs...); err != nil {
		t.Fatal(err)
	}
	srv.Faults().BreakReads(2, 50)
	got, err := s.ReadAll(ctx, domain.ReadAllOptions{StreamPrefix: "mid-"})
	if err != nil {
		t.Fatalf("ReadAll across two broken reads: %v", err)
	}
	if !slices.Equal(ids(got), dataIDs(evs)) {
		t.Fatalf("ReadAll across two broken reads: got %d events, want the %d appended, in order, once", len(got), len(evs))
	}

	srv.Faults().BreakReads(maxResumes+1, 0) // broken before any event: nothing to resume from
	if _, err := s.ReadAll(ctx, domain.ReadAllOptions{StreamPrefix: "mid-"}); err == nil {
		t.Fatal("ReadAll with every read broken: no error")
	}
	opts := domain.ReadAllOptions{StreamPrefix: "mid-", Limit: 100}
	var all []domain.RecordedEvent
	for {
		srv.Faults().BreakReads(1, 30)
		page, err := s.ReadAll(ctx, opts)
		if err != nil {
			t.Fatalf("ReadAll after %d: %v", opts.After, err)
		}
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		opts.After = page[len(page)-1].Position
	}
	if !slices.Equal(ids(all), dataIDs(evs)) {
		t.Errorf("pages across broken reads: got %d events, want the %d appended, in order, once", len(all), len(evs))
	}
}

// TestAppendsRefused: while the node refuses appends, Append fails and
// writes nothing; afterwards the same append succeeds once.
func TestAppendsRefused(t *testing.T) {
	t.Parallel()
	s, srv := emulated(t)
	ctx := testCtx(t)
	evs := events(2)
	srv.Faults().RefuseAppends(2)
	for i := range 2 {
		_, err := s.Append(ctx, "refused-s", domain.NoStream(), evs...)
		if err == nil || errors.Is(err, domain.ErrConcurrency) {
			t.Fatalf("append %d while refused: got %v, want an unavailable error", i, err)
		}
	}
	if got, err := s.ReadStream(ctx, "refused-s", 1, 0); err != nil || len(got) != 0 {
		t.Fatalf("stream after refused appends: %d events, %v; want none", len(got), err)
	}
	res, err := s.Append(ctx, "refused-s", domain.NoStream(), evs...)
	if err != nil || res.NextRevision != 2 {
		t.Fatalf("append after the refusals: %+v, %v", res, err)
	}
}

// TestLostReplyRetried: the append is written but its reply is lost; the
// caller's retry with the same events is recognised and writes nothing.
func TestLostReplyRetried(t *testing.T) {
	t.Parallel()
	s, srv := emulated(t)
	ctx := testCtx(t)
	for _, expected := range []domain.ExpectedRevision{domain.NoStream(), domain.Any()} {
		stream := "lost-" + domain.NewID()
		evs := events(3)
		srv.Faults().LoseAppendReplies(1)
		if _, err := s.Append(ctx, stream, expected, evs...); err == nil {
			t.Fatalf("%v: append with a lost reply: no error", expected)
		}
		res, err := s.Append(ctx, stream, expected, evs...)
		if err != nil || res.NextRevision != 3 {
			t.Fatalf("%v: retry: %+v, %v; want revision 3", expected, res, err)
		}
		got, err := s.ReadStream(ctx, stream, 1, 0)
		if err != nil || !slices.Equal(ids(got), dataIDs(evs)) {
			t.Errorf("%v: stream after the retry: %v, %v; want each event once", expected, ids(got), err)
		}
	}
}

// TestAppendDeadline: a stalled node's append fails when its deadline
// passes. As on a real node, the write may still happen after the client
// gave up, so the caller retries the same events: once the node resumes,
// the stream holds them once.
func TestAppendDeadline(t *testing.T) {
	t.Parallel()
	s, srv := emulated(t)
	resume := srv.Faults().Stall()
	evs := events(2)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := s.Append(ctx, "stall-s", domain.NoStream(), evs...); !hasCode(err, esdb.ErrorCodeDeadlineExceeded) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("append to a stalled node: got %v, want a deadline error", err)
	}
	resume()
	res, err := s.Append(testCtx(t), "stall-s", domain.NoStream(), evs...)
	if err != nil || res.NextRevision != 2 {
		t.Fatalf("retry after the stall: %+v, %v; want revision 2", res, err)
	}
	got, err := s.ReadStream(testCtx(t), "stall-s", 1, 0)
	if err != nil || !slices.Equal(ids(got), dataIDs(evs)) {
		t.Errorf("stream after the stall: %v, %v; want each event once", ids(got), err)
	}
}
