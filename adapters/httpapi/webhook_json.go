package httpapi

import "github.com/referral-ledger/referral-ledger/adapters/webhookapi"

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

func webhookOf(wh webhookapi.Webhook) webhookJSON {
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

func deliveriesOf(ds []webhookapi.Delivery) []deliveryJSON {
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
