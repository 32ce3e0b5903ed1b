// Package webhookapi holds the value types of the webhook management API:
// what adapters/webhooks takes and returns, and what adapters/httpapi
// serves. Keeping them here lets the HTTP edge declare the interface it
// consumes without importing the delivery machinery.
package webhookapi

import (
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

// Webhook is an endpoint of an appspace, without its secret.
type Webhook struct {
	ID         string
	AppspaceID string
	Name       string
	URL        string
	Events     []string
	Active     bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Isolation
}

// WebhookInput is a create request; Active defaults to true.
type WebhookInput struct {
	Name   string
	URL    string
	Events []string
	Active *bool
	Limits
}

// WebhookPatch changes the fields that are set.
type WebhookPatch struct {
	Name   *string
	URL    *string
	Events *[]string
	Active *bool
	Limits
}

// MaxGrace bounds a rotation's grace period.
const MaxGrace = 7 * 24 * time.Hour

// Isolation is how a webhook is kept from delaying the others: its limits
// and its breaker's state.
type Isolation struct {
	// MaxInFlight caps concurrent requests to the endpoint, per replica.
	MaxInFlight int
	// RateLimit is requests per second to the endpoint, per replica; nil: none.
	RateLimit *float64
	// State is active, paused (circuit open) or disabled.
	State          string
	FailureStreak  int
	DisabledReason *string
	DisabledAt     *time.Time
}

// Limits are the settable isolation fields; nil is not being set.
type Limits struct {
	MaxInFlight *int
	RateLimit   *float64
	// ClearRateLimit removes the rate limit (rate_limit: null).
	ClearRateLimit bool
}

// Bounds of the limits.
const (
	DefaultMaxInFlight = 4
	maxMaxInFlight     = 64
)

// Validate refuses limits out of their bounds.
func (l Limits) Validate() error {
	if l.MaxInFlight != nil && (*l.MaxInFlight < 1 || *l.MaxInFlight > maxMaxInFlight) {
		return domain.Errorf(domain.EInvalid, "max_in_flight must be between 1 and %d", maxMaxInFlight)
	}
	if l.RateLimit != nil && !(*l.RateLimit > 0 && *l.RateLimit <= 1e6) {
		return domain.Errorf(domain.EInvalid, "rate_limit must be a positive number of requests per second, or null")
	}
	return nil
}

// Delivery is a row of the delivery log.
type Delivery struct {
	ID            string
	WebhookID     string
	EventID       string
	Event         string
	ReferralCode  string
	State         string
	AttemptCount  int
	NextAttemptAt *time.Time
	CreatedAt     time.Time
	Attempts      []Attempt
	// WaitingReason says why a pending delivery waits: its endpoint is
	// disabled, inactive, paused (circuit_open), held by a Retry-After, or
	// at its in-flight cap or rate limit; empty otherwise.
	WaitingReason string
}

// Attempt is one attempt of a delivery.
type Attempt struct {
	Attempt        int
	AttemptedAt    time.Time
	StatusCode     *int
	ResponseTimeMS int64
	Success        bool
	Error          *string
	ResponseBody   *string
}

// ReplayInput selects past events to send again.
type ReplayInput struct {
	Since, Until time.Time
	// Events filters by webhook event type; the webhook's own events when empty.
	Events []string
}

// TestResult is the answer to a test event.
type TestResult struct {
	Success        bool
	StatusCode     *int
	ResponseTimeMS int64
	Error          *string
	DeliveryID     string
}
