package esdbtest

import (
	"unicode/utf16"

	"github.com/google/uuid"
)

// committedEventsLimit bounds the bytes of the committed-events cache as
// the server bounds it: ESConsts.CommittedEventsMemCacheLimit, 8 MiB
// (ESConsts.cs of kurrent-io/KurrentDB; the name was
// CommitedEventsMemCacheLimit in EventStoreDB's).
const committedEventsLimit = 8 << 20

// idCache is the server's cache of recently committed event IDs, the one
// that makes a retried append with expected revision Any (or
// StreamExists) idempotent: IndexWriter._committedEvents, a
// BoundedCache<Guid, EventInfo> (src/KurrentDB.Core/Services/Storage/
// ReaderIndex/IndexWriter.cs and BoundedCache.cs). Like it, it forgets the
// oldest IDs first (a FIFO queue, not an LRU: a lookup does not renew an
// ID) once the entries' estimated sizes pass the limit, checking before
// each put, so it may hold one entry past the limit. An append with an
// exact revision or NoStream does not need it: the server then reads the
// stream itself, as storage.commit does.
type idCache struct {
	limit int64
	size  int64
	byID  map[uuid.UUID]*record
	queue []uuid.UUID // in the order put, oldest first
}

func newIDCache(limit int64) *idCache {
	return &idCache{limit: limit, byID: map[uuid.UUID]*record{}}
}

// get returns the committed record with this ID, if the cache holds it.
func (c *idCache) get(id uuid.UUID) (*record, bool) {
	r, ok := c.byID[id]
	return r, ok
}

// put remembers a committed record, first forgetting the oldest IDs while
// the cache is full (BoundedCache.PutRecord with throwOnDuplicate false:
// a duplicate is queued and counted again, its first record kept).
func (c *idCache) put(r *record) {
	for c.size > c.limit && len(c.queue) > 0 {
		old := c.queue[0]
		c.queue = c.queue[1:]
		if o, ok := c.byID[old]; ok {
			c.size -= entrySize(o)
			delete(c.byID, old)
		}
	}
	c.size += entrySize(r)
	c.queue = append(c.queue, r.id)
	if _, ok := c.byID[r.id]; !ok {
		c.byID[r.id] = r
	}
}

// entrySize is the server's estimate of an entry: 16 + 4 + IntPtr.Size
// (8) + the stream name's size by LogV2Sizer, which is MemSizer.SizeOf: a
// .NET string's 20 bytes plus two per UTF-16 code unit plus one, rounded
// up to a multiple of 8 (src/KurrentDB.Core/Caching/MemSizer.cs).
func entrySize(r *record) int64 {
	name := int64(0)
	if r.stream != "" {
		name = (20 + 2*int64(len(utf16.Encode([]rune(r.stream)))) + 1 + 7) / 8 * 8
	}
	return 16 + 4 + 8 + name
}
