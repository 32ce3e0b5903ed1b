package eventstoretest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

// Importer is an event store that can also write events as they were
// recorded elsewhere (the events import command's path). It is not part of
// domain.EventStore; each adapter offers it on its own.
type Importer interface {
	domain.EventStore
	Import(ctx context.Context, events []domain.RecordedEvent) error
}

// RunImport runs the import tests against the stores that open builds:
// an import keeps each event's ID, stream, version, recorded time, data
// and metadata (its bytes), in the order given; it continues a stream only
// where the stream is.
func RunImport(t *testing.T, open func(tb testing.TB) Importer) {
	t.Run("KeepsEvents", func(t *testing.T) {
		t.Parallel()
		testImportKeepsEvents(t, open(t))
	})
	t.Run("ContinuesOnlyWhereTheStreamIs", func(t *testing.T) {
		t.Parallel()
		testImportContinues(t, open(t))
	})
}

// recordedEvents returns events of the given streams (one a letter after
// prefix), with versions that continue each stream from 1 and recorded
// times a day apart, in the past, to the microsecond (every store's
// precision).
func recordedEvents(prefix string, streams string) []domain.RecordedEvent {
	at := time.Date(2021, 3, 4, 5, 6, 7, 891011000, time.UTC)
	version := map[string]domain.Revision{}
	out := make([]domain.RecordedEvent, len(streams))
	for i, c := range streams {
		stream := prefix + string(c)
		version[stream]++
		out[i] = domain.RecordedEvent{Stream: stream, Version: version[stream], ID: newID(), Type: "TestEvent",
			Data: []byte(`{"n": ` + string('0'+rune(i)) + `,  "spaced" : true}`), RecordedAt: at.AddDate(0, 0, i)}
		if i%2 == 0 { // the others have none
			out[i].Metadata = []byte(`{"source": "import",   "k":[1, 2]}`)
		}
	}
	return out
}

func testImportKeepsEvents(t *testing.T, s Importer) {
	prefix := newPrefix("import")
	evs := recordedEvents(prefix, "aabab")
	if err := s.Import(ctxFor(t), evs); err != nil {
		t.Fatalf("Import: %v", err)
	}
	got := readUntil(t, s, domain.ReadAllOptions{StreamPrefix: prefix}, len(evs))
	if len(got) != len(evs) {
		t.Fatalf("read %d events, imported %d", len(got), len(evs))
	}
	for i, e := range got {
		want := evs[i]
		if e.Stream != want.Stream || e.Version != want.Version || e.ID != want.ID || e.Type != want.Type ||
			!bytes.Equal(e.Data, want.Data) || !bytes.Equal(e.Metadata, want.Metadata) || !e.RecordedAt.Equal(want.RecordedAt) {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, e, want)
		}
		if i > 0 && e.Position <= got[i-1].Position {
			t.Errorf("event %d at position %d, after %d", i, e.Position, got[i-1].Position)
		}
	}
	// The stream reads back the same, and an append continues it.
	stream := mustReadStream(t, s, prefix+"a")
	if len(stream) != 3 || !stream[2].RecordedAt.Equal(evs[3].RecordedAt) || !bytes.Equal(stream[0].Metadata, evs[0].Metadata) {
		t.Errorf("stream a: %+v", stream)
	}
	mustAppend(t, s, prefix+"a", domain.Exact(3), newEvents(1)...)
}

func testImportContinues(t *testing.T, s Importer) {
	prefix := newPrefix("importgap")
	// A first event that is version 2 of a stream that does not exist.
	gap := recordedEvents(prefix, "aa")[1:]
	checkConflict(t, s.Import(ctxFor(t), gap), "Import after a gap")
	// Version 1 of a stream that already holds it.
	mustAppend(t, s, prefix+"b", domain.NoStream(), newEvents(1)...)
	again := recordedEvents(prefix, "b")
	checkConflict(t, s.Import(ctxFor(t), again), "Import over an existing version")
	if evs := mustReadStream(t, s, prefix+"a"); len(evs) != 0 {
		t.Errorf("stream a holds %d events after a refused import", len(evs))
	}
	if evs := mustReadStream(t, s, prefix+"b"); len(evs) != 1 || evs[0].Type != "TestEvent" || evs[0].ID == again[0].ID {
		t.Errorf("stream b after a refused import: %+v", evs)
	}
	// Version 2 of it continues it.
	next := recordedEvents(prefix, "bb")[1:]
	if err := s.Import(ctxFor(t), next); err != nil {
		t.Fatalf("Import continuing a stream: %v", err)
	}
	if evs := mustReadStream(t, s, prefix+"b"); len(evs) != 2 || evs[1].ID != next[0].ID {
		t.Errorf("stream b after importing version 2: %+v", evs)
	}
}
