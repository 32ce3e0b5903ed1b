package eventstoretest

import (
	"slices"
	"testing"

	"github.com/referral-ledger/referral-ledger/domain"
)

// The two-stream cases below are what the domain service relies on when it
// appends stream by stream: always on a store without domain.MultiAppender
// (EventStoreDB), and on the SQL stores when the crash-repair suite hides
// theirs. Each append is atomic and ordered in the log after the appends
// that returned before it; a conflict on a later stream leaves the earlier
// ones written (the next command repairs that); rerunning an append that
// landed is recognised and writes nothing; and the append's last event is
// where the service looks for it after a lost acknowledgement
// (domain/landed.go). Every store runs them.

func testStreamByStream(t *testing.T, h func(tb testing.TB) Harness) {
	s := h(t).Store
	prefix := newPrefix("ordered")

	t.Run("all streams", func(t *testing.T) {
		a, b := prefix+"ok-a", prefix+"ok-b"
		mustAppend(t, s, b, domain.NoStream(), newEvents(1)...)
		ea, eb := newEvents(2), newEvents(1)
		res := []domain.AppendResult{
			mustAppend(t, s, a, domain.NoStream(), ea...),
			mustAppend(t, s, b, domain.Exact(1), eb...),
		}
		// b's append started after a's returned, so the log has a's events before b's.
		checkTwoAppends(t, s, prefix, a, b, ea, eb, res)
	})

	t.Run("conflict on a later stream keeps the earlier, and the rerun completes", func(t *testing.T) {
		a, b := prefix+"conflict-a", prefix+"conflict-b"
		seeded := newEvents(1)
		mustAppend(t, s, b, domain.NoStream(), seeded...)
		ea, eb := newEvents(2), newEvents(1)
		first := mustAppend(t, s, a, domain.NoStream(), ea...)
		_, err := s.Append(ctxFor(t), b, domain.NoStream(), eb...)
		checkConflict(t, err, "Append to the second stream with a stale expectation")
		if got, want := ids(mustReadStream(t, s, a)), ids(ea); !slices.Equal(got, want) {
			t.Errorf("stream a after the second stream's conflict: got %v, want %v", got, want)
		}
		if got, want := ids(mustReadStream(t, s, b)), ids(seeded); !slices.Equal(got, want) {
			t.Errorf("stream b after its conflict: got %v, want %v", got, want)
		}
		// The next command reruns the first append, which is recognised,
		// then appends to the second stream where it is.
		again, err := s.Append(ctxFor(t), a, domain.NoStream(), ea...)
		if err != nil {
			t.Fatalf("rerun of the first append: %v", err)
		}
		if again != first {
			t.Errorf("rerun of the first append: got %+v, want the first result %+v", again, first)
		}
		mustAppend(t, s, b, domain.Exact(1), eb...)
		if got, want := ids(mustReadStream(t, s, a)), ids(ea); !slices.Equal(got, want) {
			t.Errorf("stream a after the rerun: got %v, want %v", got, want)
		}
		if got, want := ids(mustReadStream(t, s, b)), append(ids(seeded), ids(eb)...); !slices.Equal(got, want) {
			t.Errorf("stream b after the rerun: got %v, want %v", got, want)
		}
	})
}

func testStreamByStreamRetry(t *testing.T, h func(tb testing.TB) Harness) {
	s := h(t).Store
	prefix := newPrefix("orderedretry")
	tests := []struct {
		name string
		// interleave appends another writer's event to stream a between
		// the appends and their rerun.
		interleave bool
	}{
		{name: "rerun"},
		{name: "rerun after another writer", interleave: true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := prefix+string(rune('a'+i))+"-a", prefix+string(rune('a'+i))+"-b"
			appends := []domain.StreamAppend{
				{Stream: a, Expected: domain.NoStream(), Events: newEvents(2)},
				{Stream: b, Expected: domain.Any(), Events: newEvents(1)},
			}
			var first []domain.AppendResult
			for _, ap := range appends {
				first = append(first, mustAppend(t, s, ap.Stream, ap.Expected, ap.Events...))
			}
			wantA := ids(appends[0].Events)
			if tc.interleave {
				other := newEvents(1)
				mustAppend(t, s, a, domain.Exact(2), other...)
				wantA = append(wantA, ids(other)...)
			}
			for j, ap := range appends {
				again, err := s.Append(ctxFor(t), ap.Stream, ap.Expected, ap.Events...)
				if err != nil {
					t.Fatalf("rerun of append %d: %v", j, err)
				}
				if again != first[j] {
					t.Errorf("rerun of append %d: got %+v, want the first result %+v", j, again, first[j])
				}
			}
			if got := ids(mustReadStream(t, s, a)); !slices.Equal(got, wantA) {
				t.Errorf("stream a: got %v, want %v", got, wantA)
			}
			if got, want := ids(mustReadStream(t, s, b)), ids(appends[1].Events); !slices.Equal(got, want) {
				t.Errorf("stream b: got %v, want %v", got, want)
			}
		})
	}
	t.Run("an append's last event stands for it", func(t *testing.T) {
		// After a lost acknowledgement the service reads the revision an
		// append's last event would take, expected+len(events), and looks
		// for that event's ID there.
		stream := prefix + "landed"
		mustAppend(t, s, stream, domain.NoStream(), newEvents(1)...)
		evs := newEvents(3)
		mustAppend(t, s, stream, domain.Exact(1), evs...)
		got, err := s.ReadStream(ctxFor(t), stream, 1+domain.Revision(len(evs)), 1)
		if err != nil {
			t.Fatalf("ReadStream: %v", err)
		}
		if len(got) != 1 || got[0].ID != evs[len(evs)-1].ID {
			t.Errorf("revision %d: got %v, want the append's last event %s", 1+len(evs), ids(got), evs[len(evs)-1].ID)
		}
	})
}

// checkTwoAppends checks an append of ea to the new stream a, then of eb to
// b after its one seeded event: both streams hold them, res are the
// appends' results, and the global log has a's events before b's.
func checkTwoAppends(t *testing.T, s domain.EventStore, prefix, a, b string, ea, eb []domain.EventData, res []domain.AppendResult) {
	t.Helper()
	sa, sb := mustReadStream(t, s, a), mustReadStream(t, s, b)
	if got, want := ids(sa), ids(ea); !slices.Equal(got, want) {
		t.Errorf("stream a: got %v, want %v", got, want)
	}
	if got, want := ids(sb[1:]), ids(eb); !slices.Equal(got, want) {
		t.Errorf("stream b after its first event: got %v, want %v", got, want)
	}
	for i, st := range [][]domain.RecordedEvent{sa, sb} {
		last := st[len(st)-1]
		if got, want := res[i], (domain.AppendResult{NextRevision: last.Version, Position: last.Position}); got != want {
			t.Errorf("result %d: got %+v, want %+v", i, got, want)
		}
	}
	want := append(ids(ea), ids(eb)...)
	got := readUntil(t, s, domain.ReadAllOptions{After: sb[0].Position, StreamPrefix: prefix + "ok-"}, len(want))
	if !slices.Equal(ids(got), want) {
		t.Errorf("global log: got %v, want %v", ids(got), want)
	}
}
