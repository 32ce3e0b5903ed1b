package eventstoretest

import (
	"slices"
	"testing"

	"github.com/referral-ledger/referral-ledger/domain"
)

func testAppendExpectedRevision(t *testing.T, h func(tb testing.TB) Harness) {
	s := h(t).Store
	prefix := newPrefix("expect")
	tests := []struct {
		name     string
		seed     int // events already in the stream
		expected domain.ExpectedRevision
		conflict bool
	}{
		{name: "no stream on empty", seed: 0, expected: domain.NoStream()},
		{name: "no stream on existing", seed: 1, expected: domain.NoStream(), conflict: true},
		{name: "exact zero on empty", seed: 0, expected: domain.Exact(0)},
		{name: "exact zero on existing", seed: 2, expected: domain.Exact(0), conflict: true},
		{name: "exact right", seed: 2, expected: domain.Exact(2)},
		{name: "exact behind", seed: 2, expected: domain.Exact(1), conflict: true},
		{name: "exact ahead", seed: 2, expected: domain.Exact(3), conflict: true},
		{name: "exact on empty", seed: 0, expected: domain.Exact(1), conflict: true},
		{name: "any on empty", seed: 0, expected: domain.Any()},
		{name: "any on existing", seed: 3, expected: domain.Any()},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stream := prefix + string(rune('a'+i))
			seed := newEvents(tc.seed)
			for j, e := range seed {
				mustAppend(t, s, stream, domain.Exact(domain.Revision(j)), e)
			}
			evs := newEvents(2)
			res, err := s.Append(ctxFor(t), stream, tc.expected, evs...)
			stored := mustReadStream(t, s, stream)
			if tc.conflict {
				checkConflict(t, err, "Append")
				if got, want := ids(stored), ids(seed); !slices.Equal(got, want) {
					t.Errorf("stream after a conflict: got %v, want %v", got, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if got, want := ids(stored), append(ids(seed), ids(evs)...); !slices.Equal(got, want) {
				t.Fatalf("stream: got %v, want %v", got, want)
			}
			for j, e := range stored {
				if got, want := e.Version, domain.Revision(j+1); got != want {
					t.Errorf("event %d version: got %d, want %d", j, got, want)
				}
			}
			last := stored[len(stored)-1]
			if got, want := res.NextRevision, last.Version; got != want {
				t.Errorf("NextRevision: got %d, want %d", got, want)
			}
			if got, want := res.Position, last.Position; got != want {
				t.Errorf("Position: got %d, want %d (the last event's)", got, want)
			}
		})
	}
}

func testIdempotentRetry(t *testing.T, h func(tb testing.TB) Harness) {
	s := h(t).Store
	prefix := newPrefix("retry")
	tests := []struct {
		name     string
		expected domain.ExpectedRevision
		// interleave appends another writer's event between the append and its retry.
		interleave bool
	}{
		{name: "no stream", expected: domain.NoStream()},
		{name: "any", expected: domain.Any()},
		{name: "no stream after a conflicting writer", expected: domain.NoStream(), interleave: true},
		{name: "any after another writer", expected: domain.Any(), interleave: true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stream := prefix + string(rune('a'+i))
			evs := newEvents(3)
			first := mustAppend(t, s, stream, tc.expected, evs...)
			want := ids(evs)
			if tc.interleave {
				other := newEvents(1)
				mustAppend(t, s, stream, domain.Exact(first.NextRevision), other...)
				want = append(want, ids(other)...)
			}
			retry, err := s.Append(ctxFor(t), stream, tc.expected, evs...)
			if err != nil {
				t.Fatalf("retried Append: %v", err)
			}
			if retry != first {
				t.Errorf("retried Append: got %+v, want the first result %+v", retry, first)
			}
			if got := ids(mustReadStream(t, s, stream)); !slices.Equal(got, want) {
				t.Errorf("stream after retry: got %v, want %v", got, want)
			}
		})
	}
	t.Run("exact retry after the stream moved on", func(t *testing.T) {
		stream := prefix + "exact"
		mustAppend(t, s, stream, domain.NoStream(), newEvents(1)...)
		evs := newEvents(2)
		first := mustAppend(t, s, stream, domain.Exact(1), evs...)
		mustAppend(t, s, stream, domain.Exact(3), newEvents(1)...)
		retry, err := s.Append(ctxFor(t), stream, domain.Exact(1), evs...)
		if err != nil {
			t.Fatalf("retried Append: %v", err)
		}
		if retry != first {
			t.Errorf("retried Append: got %+v, want the first result %+v", retry, first)
		}
		if got, want := len(mustReadStream(t, s, stream)), 4; got != want {
			t.Errorf("stream length: got %d, want %d", got, want)
		}
	})
}

func testConcurrentNoStream(t *testing.T, h func(tb testing.TB) Harness) {
	s := h(t).Store
	stream := newPrefix("race") + "one"
	const writers = 8
	errs := make(chan error, writers)
	for range writers {
		go func() {
			_, err := s.Append(ctxFor(t), stream, domain.NoStream(), newEvents(1)...)
			errs <- err
		}()
	}
	wins := 0
	for range writers {
		err := <-errs
		if err == nil {
			wins++
			continue
		}
		checkConflict(t, err, "concurrent Append(NoStream)")
	}
	if got, want := wins, 1; got != want {
		t.Errorf("successful appends: got %d, want %d", got, want)
	}
	if got, want := len(mustReadStream(t, s, stream)), 1; got != want {
		t.Errorf("stream length: got %d, want %d", got, want)
	}
}

func testConcurrentAny(t *testing.T, h func(tb testing.TB) Harness) {
	s := h(t).Store
	stream := newPrefix("any") + "one"
	const writers, appends = 8, 5
	errs := make(chan error, writers)
	written := make(chan string, writers*appends*2)
	for range writers {
		go func() {
			for range appends {
				evs := newEvents(2)
				if _, err := s.Append(ctxFor(t), stream, domain.Any(), evs...); err != nil {
					errs <- err
					return
				}
				for _, e := range evs {
					written <- e.ID
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Errorf("Append(Any): %v", err)
		}
	}
	close(written)
	pending := map[string]bool{}
	for id := range written {
		pending[id] = true
	}
	stored := mustReadStream(t, s, stream)
	if got, want := len(stored), len(pending); got != want {
		t.Errorf("stream length: got %d, want %d", got, want)
	}
	for i, e := range stored {
		if got, want := e.Version, domain.Revision(i+1); got != want {
			t.Errorf("event %d version: got %d, want %d", i, got, want)
		}
		if !pending[e.ID] {
			t.Errorf("event %s stored once too often or never written", e.ID)
		}
		delete(pending, e.ID)
	}
}
