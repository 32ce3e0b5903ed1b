package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/referral-ledger/referral-ledger/domain"
)

// EventJSON is an event of the log as the events and audit endpoints, and
// the events export command, show it.
type EventJSON struct {
	Position   uint64          `json:"position"`
	Stream     string          `json:"stream"`
	Version    uint64          `json:"version"`
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	RecordedAt stamp           `json:"recorded_at"`
	Data       json.RawMessage `json:"data"`
	Metadata   json.RawMessage `json:"metadata"`
}

// EventOf converts a recorded event.
func EventOf(e domain.RecordedEvent) EventJSON {
	return EventJSON{Position: e.Position, Stream: e.Stream, Version: e.Version, ID: e.ID, Type: e.Type,
		RecordedAt: stamp(e.RecordedAt), Data: e.Data, Metadata: e.Metadata}
}

const maxEventsPage = 1000

// eventsQuery is a checked events request.
type eventsQuery struct {
	after domain.Position
	limit int // 0: a page's default, or a stream without end
	// types are the types asked for (none: all), a set: a query string
	// holds a hundred thousand of them, and every event scanned is
	// looked up.
	types  map[string]bool
	follow bool
}

func parseEventsQuery(r *http.Request) (eventsQuery, error) {
	q := r.URL.Query()
	var eq eventsQuery
	after, err := parseUint(q.Get("after"), "after")
	if err != nil {
		return eq, err
	}
	limit, err := parseUint(q.Get("limit"), "limit")
	if err != nil {
		return eq, err
	}
	// A page holds at most maxEventsPage events; a stream any number.
	if !wantsNDJSON(r) && limit > maxEventsPage {
		return eq, domain.Errorf(domain.EInvalid, "limit must be between 1 and %d", maxEventsPage)
	}
	if t := q.Get("type"); t != "" {
		for _, typ := range strings.Split(t, ",") {
			if err := domain.ValidateID("type", typ); err != nil {
				return eq, err
			}
			if eq.types == nil {
				eq.types = map[string]bool{}
			}
			eq.types[typ] = true
		}
	}
	eq.after, eq.limit, eq.follow = after, int(limit), q.Get("follow") == "true"
	return eq, nil
}

// listEvents serves the appspace's part of the global log: a JSON page, or
// with Accept: application/x-ndjson a stream of every event after the
// cursor (and with follow=true, of new events as they come).
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	eq, err := parseEventsQuery(r)
	if err != nil {
		return err
	}
	if wantsNDJSON(r) {
		sw, release, err := s.openStream(w, o, eq.follow)
		if err != nil {
			return err
		}
		defer release()
		return s.streamEvents(sw, r, o, eq)
	}
	limit := eq.limit
	if limit == 0 {
		limit = maxEventsPage
	}
	out := make([]EventJSON, 0, limit)
	next := eq.after
	// A type filter may skip many events: scan a bounded number per page,
	// in full batches (a batch of the page's limit would make limit=1 cost
	// a round trip per event skipped), and let next_after carry the caller
	// past what was skipped.
	batchSize := limit
	if len(eq.types) > 0 {
		batchSize = maxEventsPage
	}
	for scanned := 0; len(out) < limit && scanned < 10*maxEventsPage; {
		batch, err := s.readEvents(r.Context(), o, next, batchSize)
		if err != nil {
			return err
		}
		for _, e := range batch {
			if len(out) == limit {
				break
			}
			next = e.Position
			scanned++
			if matchType(eq.types, e.Type) {
				out = append(out, EventOf(e))
			}
		}
		if len(batch) < batchSize {
			break
		}
	}
	sealed, err := s.withLeaves(r.Context(), o.AppspaceID, out)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": sealed, "next_after": next})
	return nil
}

// readEvents reads a batch of the appspace's events after a cursor. A
// cursor past the end of the log has no events yet, on every store; one
// that names no event otherwise is the caller's mistake: 400.
func (s *Server) readEvents(ctx context.Context, o domain.Origin, after domain.Position, limit int) ([]domain.RecordedEvent, error) {
	batch, err := s.events.ReadAll(ctx, domain.ReadAllOptions{After: after, Limit: limit, StreamPrefix: domain.StreamPrefix(o.AppspaceID)})
	switch {
	case errors.Is(err, domain.ErrPastEnd):
		return nil, nil
	case errors.Is(err, domain.ErrUnknownPosition):
		return nil, domain.Errorf(domain.EInvalid, "after names no event of the log")
	}
	return batch, err
}

func (s *Server) auditReferral(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	code := r.PathValue("code")
	if err := domain.ValidateCode("referral_code", code); err != nil {
		return err
	}
	evs, err := s.events.ReadStream(r.Context(), domain.ReferralStream(o.AppspaceID, code), 1, 10000)
	if err != nil {
		return err
	}
	if len(evs) == 0 {
		return domain.Errorf(domain.ENotFound, "referral %s not found", code)
	}
	out, checkpoint, err := s.auditTrail(r.Context(), o.AppspaceID, eventsOf(evs))
	if err != nil {
		return err
	}
	deliveries := []deliveryJSON{}
	if s.cfg.Webhooks != nil {
		ds, err := s.cfg.Webhooks.ReferralDeliveries(r.Context(), o.AppspaceID, code)
		if err != nil {
			return err
		}
		deliveries = deliveriesOf(ds)
	}
	writeJSON(w, http.StatusOK, map[string]any{"referral_code": code, "events": out, "deliveries": deliveries,
		"checkpoint": checkpoint})
	return nil
}

func wantsNDJSON(r *http.Request) bool { return accepts(r, "application/x-ndjson") }

func matchType(types map[string]bool, t string) bool {
	return len(types) == 0 || types[t]
}

// parseUint reads a non-negative integer of at most MaxInt64 (what the
// stores' signed 64-bit columns hold); empty is 0.
func parseUint(v, name string) (uint64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n > math.MaxInt64 {
		return 0, domain.Errorf(domain.EInvalid, "%s must be an integer between 0 and %d", name, int64(math.MaxInt64))
	}
	return n, nil
}
