package webhooks

import "github.com/referral-ledger/referral-ledger/adapters/webhookapi"

// The management API's value types are declared in webhookapi, which the
// HTTP edge shares without importing this package; the aliases keep their
// short names here.
type (
	Webhook      = webhookapi.Webhook
	WebhookInput = webhookapi.WebhookInput
	WebhookPatch = webhookapi.WebhookPatch
	Isolation    = webhookapi.Isolation
	Limits       = webhookapi.Limits
	Delivery     = webhookapi.Delivery
	Attempt      = webhookapi.Attempt
	ReplayInput  = webhookapi.ReplayInput
	TestResult   = webhookapi.TestResult
)

// Bounds shared with the HTTP edge.
const (
	MaxGrace           = webhookapi.MaxGrace
	DefaultMaxInFlight = webhookapi.DefaultMaxInFlight
)
