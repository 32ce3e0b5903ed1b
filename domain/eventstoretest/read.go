package eventstoretest

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

// sameEvent reports whether two reads returned the same stored event.
func sameEvent(a, b domain.RecordedEvent) bool {
	return a.Position == b.Position && a.Stream == b.Stream && a.Version == b.Version &&
		a.ID == b.ID && a.Type == b.Type && bytes.Equal(a.Data, b.Data) &&
		bytes.Equal(a.Metadata, b.Metadata) && a.RecordedAt.Equal(b.RecordedAt)
}

func testReadStream(t *testing.T, h func(tb testing.TB) Harness) {
	s := h(t).Store
	stream := newPrefix("stream") + "s"
	evs := newEvents(5)
	// Data keeps its exact bytes: spacing, key order, escapes.
	evs[0].Data = []byte(`{"b": 1,  "a": [1, 2], "s": "Zo\u00eb \"q\""}`)
	evs[1].Metadata = nil
	before := time.Now()
	mustAppend(t, s, stream, domain.NoStream(), evs[:2]...)
	mustAppend(t, s, stream, domain.Exact(2), evs[2:]...)
	after := time.Now()

	all, err := s.ReadStream(ctxFor(t), stream, 0, 100)
	if err != nil {
		t.Fatalf("ReadStream: %v", err)
	}
	if got, want := ids(all), ids(evs); !slices.Equal(got, want) {
		t.Fatalf("ReadStream from 0: got %v, want %v", got, want)
	}
	positions := map[domain.Position]bool{}
	for i, e := range all {
		if e.Stream != stream || e.Version != domain.Revision(i+1) || e.Type != evs[i].Type {
			t.Errorf("event %d: got stream %q version %d type %q, want %q %d %q",
				i, e.Stream, e.Version, e.Type, stream, i+1, evs[i].Type)
		}
		if !bytes.Equal(e.Data, evs[i].Data) || !bytes.Equal(e.Metadata, evs[i].Metadata) {
			t.Errorf("event %d: got data %s metadata %s, want %s %s", i, e.Data, e.Metadata, evs[i].Data, evs[i].Metadata)
		}
		if e.RecordedAt.Before(before.Add(-time.Minute)) || e.RecordedAt.After(after.Add(time.Minute)) {
			t.Errorf("event %d: RecordedAt %v is not around the append (%v)", i, e.RecordedAt, before)
		}
		if e.Position == 0 || positions[e.Position] {
			t.Errorf("event %d: position %d is zero or not unique", i, e.Position)
		}
		positions[e.Position] = true
	}

	testReadStreamRanges(t, s, stream, all)
	t.Run("unknown stream", func(t *testing.T) {
		got, err := s.ReadStream(ctxFor(t), stream+"-missing", 1, 10)
		if err != nil || len(got) != 0 {
			t.Errorf("ReadStream of a missing stream: got %d events, %v; want none and no error", len(got), err)
		}
	})
}

// testReadStreamRanges reads ranges of stream, whose events are all.
func testReadStreamRanges(t *testing.T, s domain.EventStore, stream string, all []domain.RecordedEvent) {
	tests := []struct {
		name  string
		from  domain.Revision
		limit int
		want  []domain.Revision
	}{
		{name: "from 1", from: 1, limit: 10, want: []domain.Revision{1, 2, 3, 4, 5}},
		{name: "from 3 limit 2", from: 3, limit: 2, want: []domain.Revision{3, 4}},
		{name: "limit 1", from: 1, limit: 1, want: []domain.Revision{1}},
		{name: "last", from: 5, limit: 10, want: []domain.Revision{5}},
		{name: "past the end", from: 6, limit: 10, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ReadStream(ctxFor(t), stream, tc.from, tc.limit)
			if err != nil {
				t.Fatalf("ReadStream: %v", err)
			}
			var versions []domain.Revision
			for _, e := range got {
				versions = append(versions, e.Version)
				if !sameEvent(e, all[e.Version-1]) {
					t.Errorf("event %d differs from the first read: got %+v, want %+v", e.Version, e, all[e.Version-1])
				}
			}
			if !slices.Equal(versions, tc.want) {
				t.Errorf("versions: got %v, want %v", versions, tc.want)
			}
		})
	}
}

func testReadLast(t *testing.T, h func(tb testing.TB) Harness) {
	s := h(t).Store
	stream := newPrefix("last") + "s"
	mustAppend(t, s, stream, domain.NoStream(), newEvents(2)...)
	mustAppend(t, s, stream, domain.Exact(2), newEvents(1)...)
	all := mustReadStream(t, s, stream)
	got, err := s.ReadLast(ctxFor(t), stream)
	if err != nil {
		t.Fatalf("ReadLast: %v", err)
	}
	if want := all[len(all)-1]; !sameEvent(got, want) {
		t.Errorf("ReadLast: got %+v, want %+v", got, want)
	}
	_, err = s.ReadLast(ctxFor(t), stream+"-missing")
	if !errors.Is(err, domain.ErrStreamNotFound) {
		t.Errorf("ReadLast of a missing stream: got error %v, want ErrStreamNotFound", err)
	}
}

func testReadAll(t *testing.T, h func(tb testing.TB) Harness) {
	s := h(t).Store
	prefix, other := newPrefix("all"), newPrefix("other")
	a, b, x := newEvents(5), newEvents(2), newEvents(1)
	mustAppend(t, s, prefix+"a", domain.NoStream(), a[:3]...)
	mustAppend(t, s, prefix+"b", domain.NoStream(), b...)
	mustAppend(t, s, other+"x", domain.NoStream(), x...)
	mustAppend(t, s, prefix+"a", domain.Exact(3), a[3:]...)
	// Appends that did not overlap are read in the order they were made.
	order := append(append(ids(a[:3]), ids(b)...), ids(a[3:])...)

	full := readUntil(t, s, domain.ReadAllOptions{StreamPrefix: prefix}, len(order))
	if got := ids(full); !slices.Equal(got, order) {
		t.Fatalf("ReadAll: got %v, want %v", got, order)
	}
	again, err := s.ReadAll(ctxFor(t), domain.ReadAllOptions{StreamPrefix: prefix})
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if len(again) != len(full) {
		t.Fatalf("second ReadAll: got %d events, want %d", len(again), len(full))
	}
	for i := range full {
		if !sameEvent(again[i], full[i]) {
			t.Errorf("second ReadAll, event %d: got %+v, want %+v", i, again[i], full[i])
		}
	}

	var paged []domain.RecordedEvent
	for opts := (domain.ReadAllOptions{StreamPrefix: prefix, Limit: 3}); ; {
		page, err := s.ReadAll(ctxFor(t), opts)
		if err != nil {
			t.Fatalf("ReadAll page: %v", err)
		}
		if len(page) > opts.Limit {
			t.Fatalf("ReadAll page: got %d events, limit %d", len(page), opts.Limit)
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		opts.After = page[len(page)-1].Position
	}
	if got := ids(paged); !slices.Equal(got, order) {
		t.Errorf("ReadAll by pages of 3: got %v, want %v", got, order)
	}

	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{prefix + "b", ids(b)},
		{other, ids(x)},
	} {
		got := readUntil(t, s, domain.ReadAllOptions{StreamPrefix: tc.prefix}, len(tc.want))
		if !slices.Equal(ids(got), tc.want) {
			t.Errorf("ReadAll with prefix %q: got %v, want %v", tc.prefix, ids(got), tc.want)
		}
	}
}

func testReadAllCursors(t *testing.T, h func(tb testing.TB) Harness) {
	s := h(t).Store
	prefix := newPrefix("cursor")
	var order []string
	var results []domain.AppendResult
	for i := range 4 {
		evs := newEvents(2)
		results = append(results, mustAppend(t, s, prefix+"s", domain.Exact(domain.Revision(2*i)), evs...))
		order = append(order, ids(evs)...)
	}
	full := readUntil(t, s, domain.ReadAllOptions{StreamPrefix: prefix}, len(order))
	for k, e := range full {
		rest, err := s.ReadAll(ctxFor(t), domain.ReadAllOptions{After: e.Position, StreamPrefix: prefix})
		if err != nil {
			t.Fatalf("ReadAll after event %d: %v", k, err)
		}
		if got, want := ids(rest), order[k+1:]; !slices.Equal(got, want) {
			t.Errorf("ReadAll after event %d: got %v, want %v", k, got, want)
		}
	}
	// An append's result is a cursor too: what follows it is what was appended later.
	rest, err := s.ReadAll(ctxFor(t), domain.ReadAllOptions{After: results[1].Position, StreamPrefix: prefix})
	if err != nil {
		t.Fatalf("ReadAll after an AppendResult: %v", err)
	}
	if got, want := ids(rest), order[4:]; !slices.Equal(got, want) {
		t.Errorf("ReadAll after an AppendResult: got %v, want %v", got, want)
	}
	// Without a prefix the log holds the same events, among others.
	var mine []string
	opts := domain.ReadAllOptions{After: full[0].Position, Limit: 50}
	for len(mine) < len(order)-1 {
		page, err := s.ReadAll(ctxFor(t), opts)
		if err != nil {
			t.Fatalf("ReadAll without prefix: %v", err)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			if strings.HasPrefix(e.Stream, prefix) {
				mine = append(mine, e.ID)
			}
		}
		opts.After = page[len(page)-1].Position
	}
	if got, want := mine, order[1:]; !slices.Equal(got, want) {
		t.Errorf("ReadAll without prefix, this test's events: got %v, want %v", got, want)
	}
}
