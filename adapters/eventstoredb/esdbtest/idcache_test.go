package esdbtest

import (
	"testing"

	"github.com/google/uuid"
)

func proposal(id uuid.UUID) []*record {
	return []*record{{id: id, typ: "E", contentType: "application/json", data: []byte(`{}`), meta: []byte{}}}
}

// TestCommittedEventsCacheIsBounded: the cache forgets the oldest IDs
// once its entries pass the limit, and only appends with expected
// revision Any depend on it, as on the server (idcache.go).
func TestCommittedEventsCacheIsBounded(t *testing.T) {
	const limit = 4096
	s := newStorage()
	s.ids = newIDCache(limit)
	id := uuid.New()
	s.commit("stream-a", expectAny, proposal(id))
	s.commit("stream-a", expectAny, proposal(id))
	if got := len(s.stream("stream-a")); got != 1 {
		t.Fatalf("an Any retry while the ID is cached: stream holds %d events, want 1", got)
	}
	// Other streams' appends push the ID out, oldest first.
	writes := 0
	for ; ; writes++ {
		if _, ok := s.ids.get(id); !ok {
			break
		}
		if writes > limit {
			t.Fatalf("the ID is still cached after %d more writes: the cache is not bounded", writes)
		}
		s.commit("stream-b", expectAny, proposal(uuid.New()))
	}
	per := entrySize(&record{stream: "stream-b"})
	if want := limit / per; int64(writes) < want || int64(writes) > want+2 {
		t.Errorf("the ID was forgotten after %d writes of %d bytes each, want about %d for a %d-byte limit", writes, per, want, limit)
	}
	if s.ids.size > limit+per {
		t.Errorf("cache size %d, want at most the limit %d plus one entry", s.ids.size, limit)
	}
	last := s.log[len(s.log)-1]
	if got, ok := s.ids.get(last.id); !ok || got != last {
		t.Errorf("the newest ID is not cached")
	}
	// An append with an exact expectation is still recognised: the server
	// reads the stream for it.
	resp := s.commit("stream-a", expectNoStream, proposal(id))
	if resp.GetSuccess() == nil || resp.GetSuccess().GetCurrentRevision() != 0 {
		t.Errorf("a NoStream retry after the ID left the cache: got %v, want success at revision 0", resp)
	}
	if got := len(s.stream("stream-a")); got != 1 {
		t.Errorf("a NoStream retry after the ID left the cache: stream holds %d events, want 1", got)
	}
	// An Any retry is not: it writes the event again, as a real node does.
	s.commit("stream-a", expectAny, proposal(id))
	if got := len(s.stream("stream-a")); got != 2 {
		t.Errorf("an Any retry after the ID left the cache: stream holds %d events, want 2 (written again)", got)
	}
}
