package eventstoredb

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/referral-ledger/referral-ledger/domain"
)

func TestPositionMapping(t *testing.T) {
	t.Parallel()
	for _, p := range []domain.Position{1, 4096, 1 << 40, 1<<63 - 1} {
		c := cursor(p)
		if c.Commit != p || c.Prepare != p {
			t.Errorf("cursor(%d): got %+v, want commit = prepare = %d", p, c, p)
		}
		e := esdb.RecordedEvent{Position: c, EventID: uuid.New(), EventNumber: 4}
		if got := recorded(&e); got.Position != p || got.Version != 5 || got.ID != e.EventID.String() {
			t.Errorf("recorded: got position %d version %d id %s, want %d 5 %s", got.Position, got.Version, got.ID, p, e.EventID)
		}
	}
	tests := []struct {
		name  string
		a, b  esdb.Position
		after bool
	}{
		{name: "later commit", a: esdb.Position{Commit: 2, Prepare: 2}, b: esdb.Position{Commit: 1, Prepare: 1}, after: true},
		{name: "same", a: esdb.Position{Commit: 2, Prepare: 2}, b: esdb.Position{Commit: 2, Prepare: 2}},
		{name: "same commit, later prepare", a: esdb.Position{Commit: 5, Prepare: 3}, b: esdb.Position{Commit: 5, Prepare: 2}, after: true},
		{name: "earlier", a: esdb.Position{Commit: 1, Prepare: 1}, b: esdb.Position{Commit: 2, Prepare: 2}},
	}
	for _, tc := range tests {
		if got := after(tc.a, tc.b); got != tc.after {
			t.Errorf("%s: after(%+v, %+v) = %v, want %v", tc.name, tc.a, tc.b, got, tc.after)
		}
	}
}

func TestOurs(t *testing.T) {
	t.Parallel()
	at := func(c, p uint64) esdb.Position { return esdb.Position{Commit: c, Prepare: p} }
	tests := []struct {
		name   string
		e      esdb.RecordedEvent
		prefix string
		want   bool
	}{
		{name: "ours", e: esdb.RecordedEvent{StreamID: "as_1:referral:X", EventType: "ReferralCreated", Position: at(9, 9)}, want: true},
		{name: "prefix", e: esdb.RecordedEvent{StreamID: "as_1:referral:X", EventType: "E", Position: at(9, 9)}, prefix: "as_1:", want: true},
		{name: "other prefix", e: esdb.RecordedEvent{StreamID: "as_2:referral:X", EventType: "E", Position: at(9, 9)}, prefix: "as_1:"},
		{name: "system stream", e: esdb.RecordedEvent{StreamID: "$stats-127.0.0.1:2113", EventType: "$statsCollected", Position: at(9, 9)}},
		{name: "stream metadata", e: esdb.RecordedEvent{StreamID: "$$as_1:referral:X", EventType: "$metadata", Position: at(9, 9)}},
		{name: "system event in a user stream", e: esdb.RecordedEvent{StreamID: "as_1:referral:X", EventType: "$streamDeleted", Position: at(9, 9)}},
		{name: "explicit transaction", e: esdb.RecordedEvent{StreamID: "as_1:referral:X", EventType: "E", Position: at(20, 9)}},
	}
	for _, tc := range tests {
		if got := ours(&tc.e, tc.prefix); got != tc.want {
			t.Errorf("%s: ours = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// fakeLog is $all as the fake serves it: system events between ours,
// another appspace's, and enough events to need several pages.
func fakeLog() (log []*api.ReadResp_ReadEvent_RecordedEvent, mine []string) {
	pos := uint64(100)
	add := func(stream, typ string, number uint64) string {
		id := uuid.New()
		log = append(log, event(stream, number, pos, id, typ))
		pos += 100
		return id.String()
	}
	add("$stats-node", "$statsCollected", 0)
	for i := range uint64(150) {
		mine = append(mine, add("as_1:referral:A", "MilestoneReached", i))
		add("as_2:referral:B", "MilestoneReached", i)
		if i%7 == 0 {
			add("$$as_1:referral:A", "$metadata", i/7)
		}
	}
	return log, mine
}

func TestReadAll(t *testing.T) {
	t.Parallel()
	log, mine := fakeLog()
	s := startFake(t, &fakeServer{log: log})
	ctx := context.Background()

	// Pages of 10 of one appspace, resumed from the last position seen.
	var got []string
	var positions []domain.Position
	opts := domain.ReadAllOptions{StreamPrefix: "as_1:", Limit: 10}
	for {
		page, err := s.ReadAll(ctx, opts)
		if err != nil {
			t.Fatalf("ReadAll(%+v): %v", opts, err)
		}
		if len(page) > opts.Limit {
			t.Fatalf("ReadAll: %d events, limit %d", len(page), opts.Limit)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			got = append(got, e.ID)
			positions = append(positions, e.Position)
			if !strings.HasPrefix(e.Stream, "as_1:") {
				t.Errorf("event of stream %s read with prefix as_1:", e.Stream)
			}
		}
		opts.After = page[len(page)-1].Position
	}
	if diff := cmp.Diff(got, mine); diff != "" {
		t.Errorf("as_1's events (-got +want):\n%s", diff)
	}

	// Without a prefix: every event but the server's own, each once.
	all, err := s.ReadAll(ctx, domain.ReadAllOptions{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(all), 300; got != want {
		t.Errorf("ReadAll without prefix: got %d events, want %d", got, want)
	}
	for _, e := range all {
		if strings.HasPrefix(e.Stream, "$") || strings.HasPrefix(e.Type, "$") {
			t.Errorf("ReadAll returned the server's event %s of %s", e.Type, e.Stream)
		}
	}

	// After the last of ours, nothing of ours is left.
	rest, err := s.ReadAll(ctx, domain.ReadAllOptions{After: positions[len(positions)-1], StreamPrefix: "as_1:"})
	if err != nil || len(rest) != 0 {
		t.Errorf("ReadAll after the last event: got %d events, %v; want none", len(rest), err)
	}
	// A cursor that names no event is an error, not a silent restart.
	for _, bad := range []domain.Position{positions[0] + 1, 1 << 50} {
		if _, err := s.ReadAll(ctx, domain.ReadAllOptions{After: bad}); err == nil {
			t.Errorf("ReadAll after position %d, which names no event: no error", bad)
		}
	}
}

func TestReadStream(t *testing.T) {
	t.Parallel()
	log, mine := fakeLog()
	s := startFake(t, &fakeServer{log: log})
	ctx := context.Background()
	evs, err := s.ReadStream(ctx, "as_1:referral:A", 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	var got []domain.Revision
	for _, e := range evs {
		got = append(got, e.Version)
	}
	if diff := cmp.Diff(got, []domain.Revision{3, 4}); diff != "" {
		t.Errorf("ReadStream from revision 3, limit 2: versions (-got +want):\n%s", diff)
	}
	last, err := s.ReadLast(ctx, "as_1:referral:A")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := last.ID, mine[len(mine)-1]; got != want || last.Version != 150 {
		t.Errorf("ReadLast: got %s at version %d, want %s at 150", got, last.Version, want)
	}
	if evs, err := s.ReadStream(ctx, "missing", 1, 0); err != nil || len(evs) != 0 {
		t.Errorf("ReadStream of a missing stream: got %d events, %v; want none and no error", len(evs), err)
	}
	if _, err := s.ReadLast(ctx, "missing"); !errors.Is(err, domain.ErrStreamNotFound) {
		t.Errorf("ReadLast of a missing stream: got %v, want ErrStreamNotFound", err)
	}
}

func TestReadStreamWithoutPositions(t *testing.T) {
	t.Parallel()
	// Before 22.10 the server sends no $all position with stream reads.
	s := startFake(t, &fakeServer{log: []*api.ReadResp_ReadEvent_RecordedEvent{
		event("as_1:referral:A", 0, unknownPosition, uuid.New(), "E"),
	}})
	if _, err := s.ReadStream(context.Background(), "as_1:referral:A", 1, 0); !errors.Is(err, errNoStreamPositions) {
		t.Errorf("ReadStream from a server without stream positions: got %v, want errNoStreamPositions", err)
	}
}
