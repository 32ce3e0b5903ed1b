package httpapi

import (
	"net/http"
	"sync"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

// followSlots counts each API key's open follow=true event streams. A
// follower holds a connection and a goroutine for as long as it likes, so
// one key could otherwise hold them all. Each replica counts its own.
type followSlots struct {
	max  int
	mu   sync.Mutex
	open map[string]int
}

func newFollowSlots(max int) *followSlots {
	if max <= 0 {
		max = 4
	}
	return &followSlots{max: max, open: map[string]int{}}
}

// acquire takes one of keyID's slots, or returns a rate_limited error with
// Retry-After set. The caller calls release when its stream ends.
func (f *followSlots) acquire(w http.ResponseWriter, keyID string) (release func(), err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.open[keyID] >= f.max {
		w.Header().Set("Retry-After", "5") // a slot frees when a stream of this key ends
		return nil, domain.Errorf(domain.ERateLimited,
			"this API key already has %d follow=true streams open; close one first", f.max)
	}
	f.open[keyID]++
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.open[keyID]--; f.open[keyID] == 0 {
				delete(f.open, keyID)
			}
		})
	}, nil
}

// openStream prepares an NDJSON events response: a follow stream first
// takes one of its key's slots. The writer it returns sets a write deadline
// when a batch starts and clears it once the batch is flushed, so a stream
// may wait for events indefinitely while a client that stops reading still
// loses it after Timeouts.Write.
func (s *Server) openStream(w http.ResponseWriter, o domain.Origin, follow bool) (http.ResponseWriter, func(), error) {
	release := func() {}
	if follow {
		var err error
		if release, err = s.follows.acquire(w, o.KeyID); err != nil {
			return nil, nil, err
		}
	}
	return &streamWriter{ResponseWriter: w, rc: http.NewResponseController(w), timeout: s.cfg.Timeouts.Write}, release, nil
}

// streamWriter arms a write deadline for each batch of a stream.
type streamWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	armed   bool
}

func (w *streamWriter) arm() {
	if !w.armed {
		_ = w.rc.SetWriteDeadline(time.Now().Add(w.timeout))
		w.armed = true
	}
}

func (w *streamWriter) WriteHeader(code int) {
	w.arm()
	w.ResponseWriter.WriteHeader(code)
}

func (w *streamWriter) Write(p []byte) (int, error) {
	w.arm()
	return w.ResponseWriter.Write(p)
}

// Flush sends the batch, then lifts the deadline for the wait that follows.
func (w *streamWriter) Flush() {
	w.arm()
	_ = w.rc.Flush()
	_ = w.rc.SetWriteDeadline(time.Time{})
	w.armed = false
}

// Unwrap lets http.ResponseController reach the connection.
func (w *streamWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
