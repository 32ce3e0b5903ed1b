package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/webhookapi"
	"github.com/referral-ledger/referral-ledger/domain"
)

// WebhookEndpoints manages an appspace's webhook endpoints. Errors:
// domain.EInvalid for bad input, domain.ENotFound for another appspace's or
// a deleted endpoint.
type WebhookEndpoints interface {
	// Create saves an endpoint and returns it with its signing secret.
	Create(ctx context.Context, appspaceID string, in webhookapi.WebhookInput) (webhookapi.Webhook, string, error)
	List(ctx context.Context, appspaceID string) ([]webhookapi.Webhook, error)
	Get(ctx context.Context, appspaceID, id string) (webhookapi.Webhook, error)
	Update(ctx context.Context, appspaceID, id string, p webhookapi.WebhookPatch) (webhookapi.Webhook, error)
	Delete(ctx context.Context, appspaceID, id string) error
	// RotateSecret returns a new secret; the old one signs too for grace.
	RotateSecret(ctx context.Context, appspaceID, id string, grace time.Duration) (string, error)
}

// WebhookDeliveries is the delivery log and what resends from it.
type WebhookDeliveries interface {
	// Test sends a test event now and logs it.
	Test(ctx context.Context, appspaceID, webhookID string) (webhookapi.TestResult, error)
	// Deliveries is an endpoint's log, newest first; state filters when set.
	Deliveries(ctx context.Context, appspaceID, webhookID string, limit int, state string) ([]webhookapi.Delivery, error)
	// ReferralDeliveries is every delivery of one referral's events.
	ReferralDeliveries(ctx context.Context, appspaceID, code string) ([]webhookapi.Delivery, error)
	// Retry queues a failed delivery again.
	Retry(ctx context.Context, appspaceID, webhookID, deliveryID string) (webhookapi.Delivery, error)
	// Replay queues past events again and returns how many.
	Replay(ctx context.Context, appspaceID, webhookID string, in webhookapi.ReplayInput) (int, error)
}

// Webhooks is what the webhook routes and the audit trail consume
// (adapters/webhooks implements it; cmd/referral-ledger wires it).
type Webhooks interface {
	WebhookEndpoints
	WebhookDeliveries
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
func (r webhookRequest) limits() webhookapi.Limits {
	return webhookapi.Limits{MaxInFlight: r.MaxInFlight, RateLimit: r.RateLimit.Value,
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
	wh, secret, err := s.cfg.Webhooks.Create(r.Context(), o.AppspaceID, webhookapi.WebhookInput{
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
	wh, err := s.cfg.Webhooks.Update(r.Context(), o.AppspaceID, id, webhookapi.WebhookPatch{
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
	if max := int64(webhookapi.MaxGrace / time.Second); req.GraceSeconds < 0 || req.GraceSeconds > max {
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

// pathID returns a path value that must be an ID, checked before any store
// sees it.
func pathID(r *http.Request, name string) (string, error) {
	v := r.PathValue(name)
	return v, domain.ValidateID(name, v)
}
