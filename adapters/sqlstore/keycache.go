package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lib/pq"
)

// keyCacheTTL bounds how long an authenticated key is served from memory
// without a look at its row. Revocations through this Access, and on
// PostgreSQL through any process (LISTEN/NOTIFY), drop the entry at once;
// the TTL only bounds what no notification can reach: a revocation by
// another process on SQLite (the CLI beside serve).
const keyCacheTTL = 2 * time.Second

// keyCache holds recently authenticated key rows by key ID.
type keyCache struct {
	mu      sync.Mutex
	entries map[string]cachedKey
	gen     uint64 // bumped by every invalidation; a lookup that raced one is not stored
	seen    map[string]bool
	// On PostgreSQL: the listener for revocations, and whether it is
	// connected (while it is not, nothing is served from memory).
	listener *pq.Listener
	live     bool
	stop     chan struct{}
	done     chan struct{}
	// On SQLite: the revocation file other processes signal through.
	file *revocationFile
}

type cachedKey struct {
	row    keyRow
	stored time.Time
}

// revocationChannel is the NOTIFY channel of the schema's key revocations,
// computed by the server so that writer and listeners agree.
const revocationChannel = `'rl_keys_' || md5(current_schema())`

// CacheKeys serves authenticated keys from memory for up to keyCacheTTL.
// For a process that is the only server of its keys (SQLite's serve):
// RevokeKey through this Access takes effect at once; so does a revocation
// by another process whose Access signals the same file (SignalRevocations),
// and any other within keyCacheTTL. On PostgreSQL use WatchRevocations.
func (a *Access) CacheKeys() {
	c := &keyCache{entries: map[string]cachedKey{}, seen: map[string]bool{}, live: true}
	if a.revocations != "" {
		c.file = &revocationFile{path: a.revocations}
		c.file.stamp = c.file.read()
	}
	a.cache = c
}

// SignalRevocations names the file through which processes sharing a
// SQLite database tell each other of revocations: RevokeKey appends to it,
// and CacheKeys (called after) forgets every key when it changed. Every
// Access on the database must name the same file.
func (a *Access) SignalRevocations(path string) { a.revocations = path }

// WatchRevocations serves authenticated keys from memory and listens
// (LISTEN, on its own connection to url) for the revocations RevokeKey
// announces from any process, so that a revocation on one replica is
// refused at once on every other. While the listener is disconnected keys
// are looked up on every call. Close stops it.
func (a *Access) WatchRevocations(ctx context.Context, url string) error {
	var channel string
	if err := a.read.GetContext(ctx, &channel, `SELECT `+revocationChannel); err != nil {
		return fmt.Errorf("key revocations: channel: %w", err)
	}
	c := &keyCache{entries: map[string]cachedKey{}, seen: map[string]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	c.listener = pq.NewListener(url, 100*time.Millisecond, 10*time.Second, func(ev pq.ListenerEventType, _ error) {
		if ev == pq.ListenerEventDisconnected || ev == pq.ListenerEventConnectionAttemptFailed {
			c.mu.Lock()
			c.live = false // until the reconnect's nil notification flushes the cache
			c.mu.Unlock()
		}
	})
	listening := make(chan error, 1)
	go func() { listening <- c.listener.Listen(channel) }()
	select {
	case err := <-listening:
		if err != nil {
			return errors.Join(fmt.Errorf("key revocations: listen: %w", err), c.listener.Close())
		}
	case <-ctx.Done():
		return errors.Join(fmt.Errorf("key revocations: listen: %w", ctx.Err()), c.listener.Close())
	}
	c.mu.Lock()
	c.live = true
	c.mu.Unlock()
	go c.drainLoop()
	a.cache = c
	return nil
}

// Close stops the revocation listener, if any.
func (a *Access) Close() error {
	c := a.cache
	if c == nil || c.listener == nil {
		return nil
	}
	close(c.stop)
	<-c.done
	return c.listener.Close()
}

// drainLoop applies notifications when no request does.
func (c *keyCache) drainLoop() {
	defer close(c.done)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.mu.Lock()
			c.drainLocked()
			c.mu.Unlock()
		}
	}
}

// drainLocked applies every notification the listener holds: a key ID
// drops that key, a nil (the listener reconnected and may have missed
// some) drops every key.
func (c *keyCache) drainLocked() {
	if c.listener == nil {
		return
	}
	for {
		select {
		case n := <-c.listener.Notify:
			c.gen++
			if n == nil {
				clear(c.entries)
				c.live = true
				continue
			}
			delete(c.entries, n.Extra)
			if len(c.seen) > 1024 { // other processes' revocations nobody waits for
				clear(c.seen)
			}
			c.seen[n.Extra] = true
		default:
			return
		}
	}
}

// get returns the cached row of a key ID, if fresh, and the generation to
// hand to put after a lookup.
func (c *keyCache) get(id string) (keyRow, bool, uint64) {
	var st fileStamp
	if c.file != nil { // the system call outside the lock every request takes
		st = c.file.read()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drainLocked()
	c.checkFileLocked(st)
	e, ok := c.entries[id]
	if !ok || !c.live || time.Since(e.stored) > keyCacheTTL {
		return keyRow{}, false, c.gen
	}
	return e.row, true, c.gen
}

// checkFileLocked forgets every key if the revocation file's stamp st,
// read by this lookup, differs from the last one that made it forget. The
// read comes before a lookup reads the row, so a revocation signalled
// after that read is seen by the next lookup. Lookups whose reads raced
// may set an older stamp back: that only forgets once more (every change
// of the stamp empties the cache), never keeps a key a newer stamp
// dropped.
func (c *keyCache) checkFileLocked(st fileStamp) {
	if c.file == nil {
		return
	}
	if st != c.file.stamp {
		c.file.stamp = st
		c.gen++
		clear(c.entries)
	}
}

// put stores a looked-up row unless an invalidation came in between.
func (c *keyCache) put(r keyRow, gen uint64, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drainLocked()
	if c.gen != gen || !c.live || r.RevokedAt.Valid {
		return
	}
	c.entries[r.ID] = cachedKey{row: r, stored: at}
}

// invalidate drops a key this process revoked.
func (c *keyCache) invalidate(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.entries, id)
}

// forget starts waiting for id's notification (see heard).
func (c *keyCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.seen, id)
}

// heard waits, up to a second, until this process's listener has received
// the revocation of id: by then the server has signalled every listener.
func (c *keyCache) heard(ctx context.Context, id string) {
	if c.listener == nil {
		return
	}
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		c.mu.Lock()
		c.drainLocked()
		ok := c.seen[id]
		delete(c.seen, id)
		c.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
