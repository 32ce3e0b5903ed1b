package eventstoretest

import (
	"slices"
	"testing"

	"github.com/referral-ledger/referral-ledger/domain"
)

// multiAppender returns the store as a domain.MultiAppender. Run gives
// these cases only to stores that declare one, so failing is a harness bug.
func multiAppender(t *testing.T, s domain.EventStore) domain.MultiAppender {
	t.Helper()
	m, ok := s.(domain.MultiAppender)
	if !ok {
		t.Fatalf("%T does not implement domain.MultiAppender", s)
	}
	return m
}

func testAppendMulti(t *testing.T, h func(tb testing.TB) Harness) {
	s := h(t).Store
	m := multiAppender(t, s)
	prefix := newPrefix("multi")

	t.Run("all streams", func(t *testing.T) {
		a, b := prefix+"ok-a", prefix+"ok-b"
		mustAppend(t, s, b, domain.NoStream(), newEvents(1)...)
		ea, eb := newEvents(2), newEvents(1)
		res, err := m.AppendMulti(ctxFor(t), []domain.StreamAppend{
			{Stream: a, Expected: domain.NoStream(), Events: ea},
			{Stream: b, Expected: domain.Exact(1), Events: eb},
		})
		if err != nil {
			t.Fatalf("AppendMulti: %v", err)
		}
		if len(res) != 2 {
			t.Fatalf("AppendMulti: got %d results, want 2", len(res))
		}
		// The streams are written in the order given, so the log has a's events before b's.
		checkTwoAppends(t, s, prefix, a, b, ea, eb, res)
	})

	t.Run("conflict writes nothing", func(t *testing.T) {
		a, b, c := prefix+"conflict-a", prefix+"conflict-b", prefix+"conflict-c"
		seeded := newEvents(1)
		mustAppend(t, s, b, domain.NoStream(), seeded...)
		_, err := m.AppendMulti(ctxFor(t), []domain.StreamAppend{
			{Stream: a, Expected: domain.NoStream(), Events: newEvents(2)},
			{Stream: b, Expected: domain.NoStream(), Events: newEvents(1)},
			{Stream: c, Expected: domain.Any(), Events: newEvents(1)},
		})
		checkConflict(t, err, "AppendMulti with a conflict on the second stream")
		if got := mustReadStream(t, s, a); len(got) != 0 {
			t.Errorf("stream a: got %d events, want none", len(got))
		}
		if got, want := ids(mustReadStream(t, s, b)), ids(seeded); !slices.Equal(got, want) {
			t.Errorf("stream b: got %v, want %v", got, want)
		}
		if got := mustReadStream(t, s, c); len(got) != 0 {
			t.Errorf("stream c: got %d events, want none", len(got))
		}
	})
}

func testAppendMultiIdempotent(t *testing.T, h func(tb testing.TB) Harness) {
	s := h(t).Store
	m := multiAppender(t, s)
	prefix := newPrefix("multiretry")
	tests := []struct {
		name string
		// interleave appends another writer's event to stream a between the
		// append and its retry.
		interleave bool
	}{
		{name: "retry"},
		{name: "retry after another writer", interleave: true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := prefix+string(rune('a'+i))+"-a", prefix+string(rune('a'+i))+"-b"
			batch := []domain.StreamAppend{
				{Stream: a, Expected: domain.NoStream(), Events: newEvents(2)},
				{Stream: b, Expected: domain.Any(), Events: newEvents(1)},
			}
			first, err := m.AppendMulti(ctxFor(t), batch)
			if err != nil {
				t.Fatalf("AppendMulti: %v", err)
			}
			wantA := ids(batch[0].Events)
			if tc.interleave {
				other := newEvents(1)
				mustAppend(t, s, a, domain.Exact(2), other...)
				wantA = append(wantA, ids(other)...)
			}
			retry, err := m.AppendMulti(ctxFor(t), batch)
			if err != nil {
				t.Fatalf("retried AppendMulti: %v", err)
			}
			if !slices.Equal(retry, first) {
				t.Errorf("retried AppendMulti: got %+v, want the first results %+v", retry, first)
			}
			if got := ids(mustReadStream(t, s, a)); !slices.Equal(got, wantA) {
				t.Errorf("stream a: got %v, want %v", got, wantA)
			}
			if got, want := ids(mustReadStream(t, s, b)), ids(batch[1].Events); !slices.Equal(got, want) {
				t.Errorf("stream b: got %v, want %v", got, want)
			}
		})
	}
}
