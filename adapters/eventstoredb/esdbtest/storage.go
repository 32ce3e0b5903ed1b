package esdbtest

import (
	"sync"
	"time"

	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
)

// storage is the node's log: $all, each stream's events and the cache of
// committed event IDs. Its lock is its own; the service and the fault
// controls never hold it while they hold theirs.
type storage struct {
	mu      sync.Mutex
	log     []*record            // $all in order
	streams map[string][]*record // each stream's events by number
	ids     *idCache             // recently committed event IDs, bounded
	next    uint64               // the next record's log position
	changed chan struct{}        // closed and replaced on every write
	now     func() time.Time
}

// newStorage returns a fresh node's log, which holds two system events
// ($epoch-information and $settings), as a fresh KurrentDB node writes its
// epoch and default ACL records before any user event.
func newStorage() *storage {
	s := &storage{
		streams: map[string][]*record{},
		ids:     newIDCache(committedEventsLimit),
		next:    128, // after the chunk header and the first epoch record
		changed: make(chan struct{}),
		now:     time.Now,
	}
	for _, sys := range [][2]string{{"$epoch-information", "$epoch-information"}, {"$settings", "$update-default-acl"}} {
		s.write(sys[0], []*record{{id: uuid.New(), typ: sys[1], contentType: "application/json", data: []byte(`{}`), meta: []byte{}}})
	}
	return s
}

// write appends records to stream at the end of the log and wakes the
// subscriptions. The caller holds s.mu (or owns s alone).
func (s *storage) write(stream string, recs []*record) {
	created := s.now()
	for _, r := range recs {
		r.stream, r.number, r.pos, r.created = stream, uint64(len(s.streams[stream])), s.next, created
		s.next += r.size()
		s.log = append(s.log, r)
		s.streams[stream] = append(s.streams[stream], r)
		s.ids.put(r)
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// stream returns a copy of a stream's events by number.
func (s *storage) stream(name string) []*record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*record(nil), s.streams[name]...)
}

// all returns $all as it is now (records are never changed once written,
// and the slice only grows) and the channel closed on the next write.
func (s *storage) all() ([]*record, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log, s.changed
}

// len is the number of records in $all.
func (s *storage) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.log)
}

// commit decides the append under the lock, as IndexWriter.CheckCommit
// does, and writes it if it is new.
func (s *storage) commit(name string, expected int64, recs []*record) *api.AppendResp {
	s.mu.Lock()
	defer s.mu.Unlock()
	evs := s.streams[name]
	current := int64(len(evs)) - 1 // -1: no stream
	if len(evs) == 0 && (expected == expectAny || expected == expectNoStream) {
		s.write(name, recs)
		return success(recs[len(recs)-1])
	}
	if expected == expectExists && current < 0 {
		return wrongVersion(expected, current)
	}
	if expected == expectAny || expected == expectExists {
		// Idempotent if every event is a committed one of this stream (the
		// server's committed-events cache); new if the first is not.
		var last *record
		for i, r := range recs {
			got, ok := s.ids.get(r.id)
			if !ok || got.stream != name {
				if i == 0 {
					s.write(name, recs)
					return success(recs[len(recs)-1])
				}
				return wrongVersion(expected, current) // corrupted idempotency
			}
			last = got
		}
		return success(last)
	}
	if expected < current {
		// Writing earlier than the end: a retry if every event is already
		// at the number it would take.
		for i, r := range recs {
			n := expected + 1 + int64(i)
			if n > current || evs[n].id != r.id {
				return wrongVersion(expected, current)
			}
		}
		return success(evs[expected+int64(len(recs))])
	}
	if expected > current {
		return wrongVersion(expected, current)
	}
	s.write(name, recs)
	return success(recs[len(recs)-1])
}
