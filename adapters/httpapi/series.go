package httpapi

import (
	"net/http"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

type seriesPointJSON struct {
	T         stamp `json:"t"`
	Created   int   `json:"created"`
	Completed int   `json:"completed"`
	Expired   int   `json:"expired"`
	Voided    int   `json:"voided"`
}

// defaultSeriesDays is the span of a series without from.
const defaultSeriesDays = 30

// statsSeries serves per-day counts for the console's chart. Bounds are
// widened to whole UTC days: from down to its midnight, to up to the next.
func (s *Server) statsSeries(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	q := r.URL.Query()
	if iv := q.Get("interval"); iv != "" && iv != "day" {
		return domain.Errorf(domain.EInvalid, "interval must be day")
	}
	from, err := parseTime(q.Get("from"), "from")
	if err != nil {
		return err
	}
	to, err := parseTime(q.Get("to"), "to")
	if err != nil {
		return err
	}
	hi := time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	if to != nil {
		hi = to.UTC().Truncate(24 * time.Hour)
		if !hi.Equal(to.UTC()) {
			hi = hi.Add(24 * time.Hour)
		}
	}
	lo := hi.AddDate(0, 0, -defaultSeriesDays)
	if from != nil {
		lo = from.UTC().Truncate(24 * time.Hour)
	}
	points, err := s.cfg.ReadModels.Series(r.Context(), projections.SeriesQuery{AppspaceID: o.AppspaceID, From: lo, To: hi})
	if err != nil {
		return err
	}
	out := make([]seriesPointJSON, len(points))
	for i, p := range points {
		out[i] = seriesPointJSON{T: stamp(p.Day), Created: p.Created, Completed: p.Completed, Expired: p.Expired, Voided: p.Voided}
	}
	writeJSON(w, http.StatusOK, map[string]any{"points": out})
	return nil
}
