package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/webhooks"
	"github.com/referral-ledger/referral-ledger/domain"
)

// webhookJSON is a webhook as the API shows it; Secret only on create.
type webhookJSON struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	URL       string   `json:"url"`
	Events    []string `json:"events"`
	Active    bool     `json:"active"`
	CreatedAt stamp    `json:"created_at"`
	UpdatedAt stamp    `json:"updated_at"`
	// Isolation (the endpoint's limits and breaker).
	MaxInFlight    int      `json:"max_in_flight"`
	RateLimit      *float64 `json:"rate_limit"`
	State          string   `json:"state"`
	FailureStreak  int      `json:"failure_streak"`
	DisabledReason *string  `json:"disabled_reason"`
	DisabledAt     *stamp   `json:"disabled_at"`
	Secret         string   `json:"secret,omitempty"`
}

func webhookOf(wh webhooks.Webhook) webhookJSON {
	return webhookJSON{ID: wh.ID, Name: wh.Name, URL: wh.URL, Events: wh.Events, Active: wh.Active,
		CreatedAt: stamp(wh.CreatedAt), UpdatedAt: stamp(wh.UpdatedAt), MaxInFlight: wh.MaxInFlight,
		RateLimit: wh.RateLimit, State: wh.State, FailureStreak: wh.FailureStreak,
		DisabledReason: wh.DisabledReason, DisabledAt: stampPtr(wh.DisabledAt)}
}

type attemptJSON struct {
	Attempt        int     `json:"attempt"`
	AttemptedAt    stamp   `json:"attempted_at"`
	StatusCode     *int    `json:"status_code"`
	ResponseTimeMS int64   `json:"response_time_ms"`
	Success        bool    `json:"success"`
	Error          *string `json:"error"`
	ResponseBody   *string `json:"response_body"`
}

type deliveryJSON struct {
	ID            string        `json:"id"`
	WebhookID     string        `json:"webhook_id"`
	EventID       string        `json:"event_id"`
	Event         string        `json:"event"`
	State         string        `json:"state"`
	AttemptCount  int           `json:"attempt_count"`
	NextAttemptAt *stamp        `json:"next_attempt_at"`
	CreatedAt     stamp         `json:"created_at"`
	Attempts      []attemptJSON `json:"attempts"`
	WaitingReason *string       `json:"waiting_reason"`
}

func deliveriesOf(ds []webhooks.Delivery) []deliveryJSON {
	out := make([]deliveryJSON, len(ds))
	for i, d := range ds {
		out[i] = deliveryJSON{ID: d.ID, WebhookID: d.WebhookID, EventID: d.EventID, Event: d.Event, State: d.State,
			AttemptCount: d.AttemptCount, NextAttemptAt: stampPtr(d.NextAttemptAt), CreatedAt: stamp(d.CreatedAt),
			Attempts: make([]attemptJSON, len(d.Attempts))}
		if d.WaitingReason != "" {
			out[i].WaitingReason = &d.WaitingReason
		}
		for j, a := range d.Attempts {
			out[i].Attempts[j] = attemptJSON{Attempt: a.Attempt, AttemptedAt: stamp(a.AttemptedAt), StatusCode: a.StatusCode,
				ResponseTimeMS: a.ResponseTimeMS, Success: a.Success, Error: a.Error, ResponseBody: a.ResponseBody}
		}
	}
	return out
}

func (s *Server) webhookRoutes() []route {
	return []route{
		{"POST /v1/api/webhooks", domain.ScopeWebhooksManage, s.createWebhook},
		{"GET /v1/api/webhooks", domain.ScopeWebhooksManage, s.listWebhooks},
		{"GET /v1/api/webhooks/{id}", domain.ScopeWebhooksManage, s.getWebhook},
		{"PATCH /v1/api/webhooks/{id}", domain.ScopeWebhooksManage, s.updateWebhook},
		{"DELETE /v1/api/webhooks/{id}", domain.ScopeWebhooksManage, s.deleteWebhook},
		{"POST /v1/api/webhooks/{id}/rotate-secret", domain.ScopeWebhooksManage, s.rotateSecret},
		{"POST /v1/api/webhooks/{id}/test", domain.ScopeWebhooksManage, s.testWebhook},
		{"GET /v1/api/webhooks/{id}/deliveries", domain.ScopeWebhooksManage, s.listDeliveries},
		{"POST /v1/api/webhooks/{id}/deliveries/{delivery_id}/retry", domain.ScopeWebhooksManage, s.retryDelivery},
		{"POST /v1/api/webhooks/{id}/replay", domain.ScopeWebhooksManage, s.replayWebhook},
	}
}

type webhookRequest struct {
	Name   *string   `json:"name"`
	URL    *string   `json:"url"`
	Events *[]string `json:"events"`
	Active *bool     `json:"active"`
	// MaxInFlight and RateLimit are the endpoint's limits; rate_limit: null
	// removes the rate limit.
	MaxInFlight *int              `json:"max_in_flight"`
	RateLimit   nullable[float64] `json:"rate_limit"`
}

// limits are the request's isolation settings.
func (r webhookRequest) limits() webhooks.Limits {
	return webhooks.Limits{MaxInFlight: r.MaxInFlight, RateLimit: r.RateLimit.Value,
		ClearRateLimit: r.RateLimit.Set && r.RateLimit.Value == nil}
}

// nullable is a JSON field that tells absent (Set false) from null
// (Set, Value nil).
type nullable[T any] struct {
	Set   bool
	Value *T
}

// UnmarshalJSON implements json.Unmarshaler; it runs only when the field is present.
func (n *nullable[T]) UnmarshalJSON(b []byte) error {
	n.Set = true
	return json.Unmarshal(b, &n.Value)
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	var req webhookRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.Name == nil || req.URL == nil || req.Events == nil {
		return domain.Errorf(domain.EInvalid, "name, url and events are required")
	}
	wh, secret, err := s.cfg.Webhooks.Create(r.Context(), o.AppspaceID, webhooks.WebhookInput{
		Name: *req.Name, URL: *req.URL, Events: *req.Events, Active: req.Active, Limits: req.limits()})
	if err != nil {
		return err
	}
	out := webhookOf(wh)
	out.Secret = secret
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	whs, err := s.cfg.Webhooks.List(r.Context(), o.AppspaceID)
	if err != nil {
		return err
	}
	out := make([]webhookJSON, len(whs))
	for i, wh := range whs {
		out[i] = webhookOf(wh)
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": out})
	return nil
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	wh, err := s.cfg.Webhooks.Get(r.Context(), o.AppspaceID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, webhookOf(wh))
	return nil
}

func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req webhookRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	wh, err := s.cfg.Webhooks.Update(r.Context(), o.AppspaceID, id, webhooks.WebhookPatch{
		Name: req.Name, URL: req.URL, Events: req.Events, Active: req.Active, Limits: req.limits()})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, webhookOf(wh))
	return nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.cfg.Webhooks.Delete(r.Context(), o.AppspaceID, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) rotateSecret(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req struct {
		GraceSeconds int64 `json:"grace_seconds"`
	}
	if r.ContentLength != 0 { // the body is optional
		if err := decodeBody(r, &req); err != nil {
			return err
		}
	}
	// Checked before the conversion, which would overflow a Duration.
	if max := int64(webhooks.MaxGrace / time.Second); req.GraceSeconds < 0 || req.GraceSeconds > max {
		return domain.Errorf(domain.EInvalid, "grace_seconds must be between 0 and %d", max)
	}
	secret, err := s.cfg.Webhooks.RotateSecret(r.Context(), o.AppspaceID, id, time.Duration(req.GraceSeconds)*time.Second)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]string{"secret": secret})
	return nil
}

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
	writeJSON(w, http.StatusAccepted, deliveriesOf([]webhooks.Delivery{d})[0])
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
	n, err := s.cfg.Webhooks.Replay(r.Context(), o.AppspaceID, id, webhooks.ReplayInput{
		Since: req.Since, Until: req.Until, Events: req.Events})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"queued": n})
	return nil
}

// pathID returns a path value that must be an ID, checked before any store
// sees it.
func pathID(r *http.Request, name string) (string, error) {
	v := r.PathValue(name)
	return v, domain.ValidateID(name, v)
}
