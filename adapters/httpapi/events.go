package httpapi

import (
	"encoding/json"
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

// listEvents serves the appspace's part of the global log: a JSON page, or
// with Accept: application/x-ndjson a stream of every event after the
// cursor (and with follow=true, of new events as they come).
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	q := r.URL.Query()
	after, err := parseUint(q.Get("after"), "after")
	if err != nil {
		return err
	}
	limit, err := parseUint(q.Get("limit"), "limit")
	if err != nil {
		return err
	}
	var types []string
	if t := q.Get("type"); t != "" {
		types = strings.Split(t, ",")
	}
	if wantsNDJSON(r) {
		follow := q.Get("follow") == "true"
		sw, release, err := s.openStream(w, o, follow)
		if err != nil {
			return err
		}
		defer release()
		return s.streamEvents(sw, r, o, after, int(limit), types, follow)
	}
	if limit == 0 || limit > maxEventsPage {
		limit = maxEventsPage
	}
	out := make([]EventJSON, 0, limit)
	next := after
	// A type filter may skip many events: scan a bounded number per page,
	// and let next_after carry the caller past what was skipped.
	for scanned := 0; len(out) < int(limit) && scanned < 10*maxEventsPage; {
		batch, err := s.events.ReadAll(r.Context(), domain.ReadAllOptions{After: next, Limit: int(limit), StreamPrefix: domain.StreamPrefix(o.AppspaceID)})
		if err != nil {
			return err
		}
		for _, e := range batch {
			if len(out) == int(limit) {
				break
			}
			next = e.Position
			scanned++
			if matchType(types, e.Type) {
				out = append(out, EventOf(e))
			}
		}
		if len(batch) < int(limit) {
			break
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out, "next_after": next})
	return nil
}

func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request, o domain.Origin, after uint64, limit int, types []string, follow bool) error {
	ctx := r.Context()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	sent := 0
	for limit == 0 || sent < limit {
		batch, err := s.events.ReadAll(ctx, domain.ReadAllOptions{After: after, Limit: maxEventsPage, StreamPrefix: domain.StreamPrefix(o.AppspaceID)})
		if err != nil {
			s.log.ErrorContext(ctx, "stream events", "err", err, "request_id", o.RequestID)
			return nil // the status line is sent; the stream just ends
		}
		for _, e := range batch {
			after = e.Position
			if !matchType(types, e.Type) {
				continue
			}
			if err := enc.Encode(EventOf(e)); err != nil {
				return nil // client gone
			}
			if sent++; limit > 0 && sent >= limit {
				break
			}
		}
		if flusher != nil {
			flusher.Flush()
		}
		if len(batch) == 0 {
			if !follow {
				return nil
			}
			if err := s.events.WaitForEvents(ctx, domain.ReadAllOptions{After: after, StreamPrefix: domain.StreamPrefix(o.AppspaceID)}); err != nil {
				return nil
			}
		}
	}
	return nil
}

func (s *Server) auditReferral(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	code := r.PathValue("code")
	evs, err := s.events.ReadStream(r.Context(), domain.ReferralStream(o.AppspaceID, code), 1, 10000)
	if err != nil {
		return err
	}
	if len(evs) == 0 {
		return domain.Errorf(domain.ENotFound, "referral %s not found", code)
	}
	out := make([]EventJSON, len(evs))
	for i, e := range evs {
		out[i] = EventOf(e)
	}
	deliveries := []deliveryJSON{}
	if s.cfg.Webhooks != nil {
		ds, err := s.cfg.Webhooks.ReferralDeliveries(r.Context(), o.AppspaceID, code)
		if err != nil {
			return err
		}
		deliveries = deliveriesOf(ds)
	}
	writeJSON(w, http.StatusOK, map[string]any{"referral_code": code, "events": out, "deliveries": deliveries})
	return nil
}

func wantsNDJSON(r *http.Request) bool { return accepts(r, "application/x-ndjson") }

func matchType(types []string, t string) bool {
	if len(types) == 0 {
		return true
	}
	for _, x := range types {
		if x == t {
			return true
		}
	}
	return false
}

func parseUint(v, name string) (uint64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, domain.Errorf(domain.EInvalid, "%s must be a non-negative integer", name)
	}
	return n, nil
}
