package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/referral-ledger/referral-ledger/domain"
)

// streamFlushAt is how many bytes of NDJSON a stream gathers before it
// writes them (and at the end of each page).
const streamFlushAt = 64 << 10

// streamPage is a page of a stream's events with their leaf indexes, or
// the failure that ends the stream.
type streamPage struct {
	events []domain.RecordedEvent
	leaves map[string]int64
	err    error
	what   string // what failed
}

// streamEvents writes events as NDJSON. The first read happens before the
// status line, so a bad request still gets its error status; a read that
// fails later ends the stream with an error line, which no event resembles.
//
// The pages after the first are read by another goroutine, and their leaf
// indexes by a third, while this one writes the page before: an `audit
// verify` of the whole log reads a million events, and the store's reads
// and the encoding then run side by side instead of taking turns.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request, o domain.Origin, eq eventsQuery) error {
	first, err := s.readEvents(r.Context(), o, eq.after, maxEventsPage)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	if len(first) == 0 && flusher != nil {
		flusher.Flush() // a follower has its status line while it waits
	}
	ctx, cancel := context.WithCancel(r.Context())
	read, pages := make(chan streamPage, 1), make(chan streamPage, 1)
	var wg sync.WaitGroup
	wg.Go(func() { s.readPages(ctx, o, eq, first, read) })
	wg.Go(func() { s.addLeaves(ctx, o.AppspaceID, read, pages) })
	defer func() { cancel(); wg.Wait() }() // a request's goroutines end with it

	var buf bytes.Buffer
	sent := 0
	for p := range pages {
		if p.err != nil {
			s.streamFailed(ctx, w, &buf, o, p.what, p.err)
			return nil // the status line is sent; the error line ends the stream
		}
		for _, e := range p.events {
			if !matchType(eq.types, e.Type) {
				continue
			}
			var leaf *int64
			if n, ok := p.leaves[e.ID]; ok {
				leaf = &n
			}
			if err := appendEventLine(&buf, e, leaf); err != nil {
				s.streamFailed(ctx, w, &buf, o, "stream events: event "+e.ID, err)
				return nil
			}
			sent++
			if eq.limit > 0 && sent >= eq.limit {
				_, _ = w.Write(buf.Bytes())
				return nil
			}
			if buf.Len() >= streamFlushAt {
				if _, err := w.Write(buf.Bytes()); err != nil {
					return nil // client gone
				}
				buf.Reset()
			}
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return nil // client gone
		}
		buf.Reset()
		if flusher != nil {
			flusher.Flush()
		}
	}
	return nil
}

// readPages sends first and the pages after it until the log ends (or,
// following, until ctx ends) or a read fails, which it sends as the last
// page.
func (s *Server) readPages(ctx context.Context, o domain.Origin, eq eventsQuery, batch []domain.RecordedEvent, pages chan<- streamPage) {
	defer close(pages)
	after := eq.after
	for {
		if len(batch) > 0 {
			if !sendPage(ctx, pages, streamPage{events: batch}) {
				return
			}
			after = batch[len(batch)-1].Position
		} else {
			if !eq.follow {
				return
			}
			if err := s.events.WaitForEvents(ctx, domain.ReadAllOptions{After: after, StreamPrefix: domain.StreamPrefix(o.AppspaceID)}); err != nil {
				return
			}
		}
		var err error
		if batch, err = s.readEvents(ctx, o, after, maxEventsPage); err != nil {
			sendPage(ctx, pages, streamPage{err: err, what: "stream events"})
			return
		}
	}
}

// addLeaves passes on the pages of in with their events' leaf indexes,
// until in closes or a lookup fails, which it sends as the last page.
func (s *Server) addLeaves(ctx context.Context, app string, in <-chan streamPage, out chan<- streamPage) {
	defer close(out)
	for p := range in {
		if p.err == nil {
			ids := make([]string, len(p.events))
			for i, e := range p.events {
				ids[i] = e.ID
			}
			if p.leaves, p.err = s.leafIndexes(ctx, app, ids); p.err != nil {
				p.what = "stream events: leaf indexes"
			}
		}
		if !sendPage(ctx, out, p) || p.err != nil {
			return
		}
	}
}

// sendPage sends p unless ctx ends first.
func sendPage(ctx context.Context, pages chan<- streamPage, p streamPage) bool {
	select {
	case pages <- p:
		return true
	case <-ctx.Done():
		return false
	}
}

// streamFailed ends a stream whose status line is sent: the events in buf,
// then an error line (no event resembles it), unless the client is gone;
// so a stream cut short never looks like the end of the log.
func (s *Server) streamFailed(ctx context.Context, w http.ResponseWriter, buf *bytes.Buffer, o domain.Origin, msg string, err error) {
	if ctx.Err() != nil {
		return
	}
	s.log.ErrorContext(ctx, msg, "err", err, "request_id", o.RequestID)
	_ = json.NewEncoder(buf).Encode(errorBody{Error: "internal error (request " + o.RequestID + ")", Code: domain.EInternal})
	_, _ = w.Write(buf.Bytes())
}
