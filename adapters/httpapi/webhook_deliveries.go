package httpapi

import (
	"net/http"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/webhookapi"
	"github.com/referral-ledger/referral-ledger/domain"
)

func (s *Server) testWebhook(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	res, err := s.cfg.Webhooks.Test(r.Context(), o.AppspaceID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": res.Success, "status_code": res.StatusCode,
		"response_time_ms": res.ResponseTimeMS, "error": res.Error, "delivery_id": res.DeliveryID})
	return nil
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	limit, err := parseUint(r.URL.Query().Get("limit"), "limit")
	if err != nil {
		return err
	}
	if limit == 0 {
		limit = 50
	}
	ds, err := s.cfg.Webhooks.Deliveries(r.Context(), o.AppspaceID, id, int(min(limit, 1<<20)), r.URL.Query().Get("status"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": deliveriesOf(ds)})
	return nil
}

func (s *Server) retryDelivery(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	deliveryID, err := pathID(r, "delivery_id")
	if err != nil {
		return err
	}
	d, err := s.cfg.Webhooks.Retry(r.Context(), o.AppspaceID, id, deliveryID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, deliveriesOf([]webhookapi.Delivery{d})[0])
	return nil
}

func (s *Server) replayWebhook(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req struct {
		Since  time.Time `json:"since"`
		Until  time.Time `json:"until"`
		Events []string  `json:"events"`
	}
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	n, err := s.cfg.Webhooks.Replay(r.Context(), o.AppspaceID, id, webhookapi.ReplayInput{
		Since: req.Since, Until: req.Until, Events: req.Events})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"queued": n})
	return nil
}
