package eventstoretest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

// holder returns the harness's HoldAppend, or skips the test for stores
// whose appends cannot overlap.
func holder(t *testing.T, hs Harness) func(ctx context.Context, stream string, expected domain.ExpectedRevision, events ...domain.EventData) (func() error, error) {
	t.Helper()
	if hs.HoldAppend == nil {
		t.Skip("the store's appends cannot overlap (no HoldAppend)")
	}
	return hs.HoldAppend
}

// testHeldCommitNotSkipped commits an older writer after a newer one, with a
// reader in between: the reader must see both events, each once.
func testHeldCommitNotSkipped(t *testing.T, h func(tb testing.TB) Harness) {
	hs := h(t)
	s, hold := hs.Store, holder(t, hs)
	prefix := newPrefix("held")
	ea, eb := newEvents(1), newEvents(1)
	commit, err := hold(ctxFor(t), prefix+"a", domain.NoStream(), ea...)
	if err != nil {
		t.Fatalf("HoldAppend: %v", err)
	}
	mustAppend(t, s, prefix+"b", domain.NoStream(), eb...)
	early, err := s.ReadAll(ctxFor(t), domain.ReadAllOptions{StreamPrefix: prefix})
	if err != nil {
		t.Fatalf("ReadAll while a writer holds its transaction: %v", err)
	}
	if err := commit(); err != nil {
		t.Fatalf("commit of the held append: %v", err)
	}
	opts := domain.ReadAllOptions{StreamPrefix: prefix}
	if len(early) > 0 {
		opts.After = early[len(early)-1].Position
	}
	late := readUntil(t, s, opts, 2-len(early))
	got := append(ids(early), ids(late)...)
	slices.Sort(got)
	want := append(ids(ea), ids(eb)...)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("events read around a late commit: got %v, want %v (read %d before the commit)", got, want, len(early))
	}
}

// testHeldConflict races two NoStream appends, one of them held open: one
// wins, the other is a concurrency conflict.
func testHeldConflict(t *testing.T, h func(tb testing.TB) Harness) {
	hs := h(t)
	s, hold := hs.Store, holder(t, hs)
	stream := newPrefix("heldconflict") + "s"
	ea, eb := newEvents(1), newEvents(1)
	commit, err := hold(ctxFor(t), stream, domain.NoStream(), ea...)
	if err != nil {
		t.Fatalf("HoldAppend: %v", err)
	}
	other := make(chan error, 1)
	go func() {
		_, err := s.Append(ctxFor(t), stream, domain.NoStream(), eb...)
		other <- err
	}()
	time.Sleep(50 * time.Millisecond) // let the second append reach the store
	errA := commit()
	errB := <-other
	var want []string
	switch {
	case errA == nil && errB != nil:
		checkConflict(t, errB, "the append racing a held one")
		want = ids(ea)
	case errB == nil && errA != nil:
		checkConflict(t, errA, "the held append")
		want = ids(eb)
	default:
		t.Fatalf("racing NoStream appends: got errors %v and %v, want exactly one ErrConcurrency", errA, errB)
	}
	if got := ids(mustReadStream(t, s, stream)); !slices.Equal(got, want) {
		t.Errorf("stream: got %v, want %v", got, want)
	}
}

// testConcurrentWritersAndReader is the headline test of the global log:
// writers append concurrently, some holding their transactions open so that
// they commit after later writers, while one reader follows the log from the
// start. The reader must see every event exactly once, and each stream's
// events in order.
func testConcurrentWritersAndReader(t *testing.T, h func(tb testing.TB) Harness) {
	hs := h(t)
	s := hs.Store
	prefix := newPrefix("conc")
	const writers, perWriter = 8, 40
	const total = writers * perWriter
	ctx, cancel := context.WithTimeout(context.Background(), 3*waitTimeout)
	defer cancel()

	written := make(chan string, total)
	writerErrs := make(chan error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			if err := writeStream(ctx, hs, fmt.Sprintf("%sw%d", prefix, w), w, perWriter, written); err != nil {
				writerErrs <- fmt.Errorf("writer %d: %w", w, err)
				cancel()
			}
		})
	}

	// The reader gives up waitTimeout after the writers are done.
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	go func() {
		wg.Wait()
		select {
		case <-time.After(waitTimeout):
			stopReading()
		case <-readCtx.Done():
		}
	}()
	seen, cursor, problems := follow(readCtx, s, prefix, total)
	for i, p := range problems {
		if i == 5 {
			t.Errorf("reader: %d more problems", len(problems)-i)
			break
		}
		t.Error("reader: " + p)
	}
	wg.Wait()
	close(writerErrs)
	close(written)
	for err := range writerErrs {
		t.Error(err)
	}
	want := map[string]bool{}
	for id := range written {
		want[id] = true
	}
	if !maps.Equal(seen, want) {
		t.Errorf("reader saw %d events, writers wrote %d: the sets differ", len(seen), len(want))
	}
	rest, err := s.ReadAll(ctxFor(t), domain.ReadAllOptions{After: cursor, StreamPrefix: prefix})
	if err != nil || len(rest) != 0 {
		t.Errorf("ReadAll after the reader's last event: got %d events, %v; want none", len(rest), err)
	}
}

// follow reads the log from the start, filtered by prefix, until it has
// seen total events or ctx ends. It returns the IDs seen, the last
// position, and what went wrong: events read twice or out of their
// stream's order, a read that failed.
func follow(ctx context.Context, s domain.EventStore, prefix string, total int) (map[string]bool, domain.Position, []string) {
	seen := map[string]bool{}
	last := map[string]domain.Revision{}
	var cursor domain.Position
	var problems []string
	for len(seen) < total {
		evs, err := s.ReadAll(ctx, domain.ReadAllOptions{After: cursor, Limit: 7, StreamPrefix: prefix})
		if err != nil {
			return seen, cursor, append(problems, fmt.Sprintf("ReadAll after %d: %v", cursor, err))
		}
		for _, e := range evs {
			if seen[e.ID] {
				problems = append(problems, fmt.Sprintf("event %s (%s@%d) read twice", e.ID, e.Stream, e.Version))
			}
			seen[e.ID] = true
			if e.Version != last[e.Stream]+1 {
				problems = append(problems, fmt.Sprintf("%s@%d read after %s@%d", e.Stream, e.Version, e.Stream, last[e.Stream]))
			}
			last[e.Stream] = e.Version
		}
		if len(evs) > 0 {
			cursor = evs[len(evs)-1].Position
			continue
		}
		if err := s.WaitForEvents(ctx, domain.ReadAllOptions{After: cursor}); err != nil {
			return seen, cursor, append(problems, fmt.Sprintf("waiting after %d of %d events: %v", len(seen), total, err))
		}
	}
	return seen, cursor, problems
}

// writeStream appends n events to stream in batches of one to three with
// exact expected revisions. Odd writers hold some of their transactions open
// for 50 to 200ms before committing, when the store supports it.
func writeStream(ctx context.Context, hs Harness, stream string, w, n int, written chan<- string) error {
	var rev domain.Revision
	for j := 0; int(rev) < n; j++ {
		evs := newEvents(min(1+j%3, n-int(rev)))
		if hs.HoldAppend != nil && w%2 == 1 && j%4 == 1 {
			commit, err := hs.HoldAppend(ctx, stream, domain.Exact(rev), evs...)
			if err != nil {
				return fmt.Errorf("hold append at %d: %w", rev, err)
			}
			time.Sleep(time.Duration(50+(w*37+j*53)%150) * time.Millisecond)
			if err := commit(); err != nil {
				return fmt.Errorf("commit held append at %d: %w", rev, err)
			}
		} else if _, err := hs.Store.Append(ctx, stream, domain.Exact(rev), evs...); err != nil {
			return fmt.Errorf("append at %d: %w", rev, err)
		}
		for _, e := range evs {
			written <- e.ID
		}
		rev += domain.Revision(len(evs))
	}
	if ctx.Err() != nil {
		return errors.New("writer outlived the test's deadline")
	}
	return nil
}
