package httpapi

import (
	"net/http"
	"sync"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

// keySlots counts each API key's open streams of one kind. A stream holds
// a connection, goroutines and pages of events for as long as its client
// reads (a follower: as long as it likes), so one key could otherwise hold
// the process's memory and connections. Each replica counts its own.
type keySlots struct {
	max  int
	what string // the streams counted, for the refusal
	mu   sync.Mutex
	open map[string]int
}

// newKeySlots caps each key at max streams (def when max <= 0).
func newKeySlots(max, def int, what string) *keySlots {
	if max <= 0 {
		max = def
	}
	return &keySlots{max: max, what: what, open: map[string]int{}}
}

// acquire takes one of keyID's slots, or returns a rate_limited error with
// Retry-After set. The caller calls release when its stream ends.
func (f *keySlots) acquire(w http.ResponseWriter, keyID string) (release func(), err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.open[keyID] >= f.max {
		w.Header().Set("Retry-After", "5") // a slot frees when a stream of this key ends
		return nil, domain.Errorf(domain.ERateLimited,
			"this API key already has %d %s open; close one first", f.max, f.what)
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

// openStream prepares an NDJSON events response: it takes one of its
// key's stream slots, and a follow stream one of its follow slots too. The
// writer it returns sets a write deadline when a batch starts and clears
// it once the batch is flushed, so a stream may wait for events
// indefinitely while a client that stops reading still loses it after
// Timeouts.Write.
func (s *Server) openStream(w http.ResponseWriter, o domain.Origin, follow bool) (http.ResponseWriter, func(), error) {
	release, err := s.streams.acquire(w, o.KeyID)
	if err != nil {
		return nil, nil, err
	}
	if follow {
		releaseFollow, err := s.follows.acquire(w, o.KeyID)
		if err != nil {
			release()
			return nil, nil, err
		}
		releaseStream := release
		release = func() { releaseFollow(); releaseStream() }
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
