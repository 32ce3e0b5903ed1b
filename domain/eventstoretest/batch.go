package eventstoretest

import (
	"testing"

	"github.com/referral-ledger/referral-ledger/domain"
)

// testReadStreams: a domain.BatchReader returns, for each read in order,
// what ReadLast or ReadStream returns for it alone; an empty stream reads
// as no events.
func testReadStreams(t *testing.T, h func(tb testing.TB) Harness) {
	s := h(t).Store
	b, ok := s.(domain.BatchReader)
	if !ok {
		t.Fatalf("%T is no domain.BatchReader", s)
	}
	prefix := newPrefix("batch")
	mustAppend(t, s, prefix+"a", domain.NoStream(), newEvents(4)...)
	mustAppend(t, s, prefix+"b", domain.NoStream(), newEvents(2)...)
	a, bs := mustReadStream(t, s, prefix+"a"), mustReadStream(t, s, prefix+"b")
	reads := []domain.StreamRead{
		{Stream: prefix + "a", Last: true},
		{Stream: prefix + "b", From: 1},
		{Stream: prefix + "missing", Last: true},
		{Stream: prefix + "a", From: 2, Limit: 2},
		{Stream: prefix + "missing", From: 1, Limit: 10},
		{Stream: prefix + "b", Last: true},
		{Stream: prefix + "a"}, // From 0 reads from the start
	}
	want := [][]domain.RecordedEvent{a[3:], bs, nil, a[1:3], nil, bs[1:], a}
	got, err := b.ReadStreams(ctxFor(t), reads)
	if err != nil {
		t.Fatalf("ReadStreams: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("ReadStreams: got %d results for %d reads", len(got), len(want))
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Errorf("read %d (%+v): got %d events, want %d", i, reads[i], len(got[i]), len(want[i]))
			continue
		}
		for j := range want[i] {
			if !sameEvent(got[i][j], want[i][j]) {
				t.Errorf("read %d (%+v), event %d: got %+v, want %+v", i, reads[i], j, got[i][j], want[i][j])
			}
		}
	}
}
