package domain

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Origin says who issues a command and on whose behalf; it becomes each
// event's metadata.
type Origin struct {
	AppspaceID    string
	KeyID         string
	RequestID     string
	CorrelationID string
	// Reason is set when the system acts on its own (for example "expiry").
	Reason string
}

// ServiceConfig configures a Service. Zero fields take defaults.
type ServiceConfig struct {
	// Now returns the current time; time.Now by default.
	Now func() time.Time
	// NewCode returns a fresh referral code; NewReferralCode by default.
	NewCode func() string
	// MaxAttempts bounds the retries of a command that meets concurrency
	// conflicts; 50 by default.
	MaxAttempts int
}

// Service runs the referral commands and queries: each method states the
// decision, and the types beside it do the rest — loader reads streams into
// aggregates (streams.go), appender appends them (landed.go),
// referralCommands runs a decision on one referral (referralcmd.go), creator
// issues codes (create.go).
type Service struct {
	store     EventStore
	load      loader
	app       appender
	clock     clock
	attempts  int
	referrals referralCommands
	creates   creator
}

// NewService returns a Service over store.
func NewService(store EventStore, cfg ServiceConfig) *Service {
	now, newCode, attempts := cfg.Now, cfg.NewCode, cfg.MaxAttempts
	if now == nil {
		now = time.Now
	}
	if newCode == nil {
		newCode = NewReferralCode
	}
	if attempts <= 0 {
		attempts = 50
	}
	load, app := loader{store: store}, appender{store: store}
	return &Service{
		store: store, load: load, app: app, clock: now, attempts: attempts,
		referrals: referralCommands{load: load, app: app, clock: now, attempts: attempts},
		creates:   creator{load: load, app: app, clock: now, newCode: newCode},
	}
}

// Store returns the event store the service appends to.
func (s *Service) Store() EventStore { return s.store }

// Now returns the service's current time as commands see it: what a
// reward's status is judged against when a referral is shown.
func (s *Service) Now() time.Time { return s.clock.now() }

// clock is the time source of commands.
type clock func() time.Time

// now returns the current time in UTC, truncated to the millisecond the
// API shows, so the log and the API agree.
func (c clock) now() time.Time { return c().UTC().Truncate(time.Millisecond) }

// retry runs attempt until it returns something other than ErrConcurrency,
// at most attempts times.
func retry(ctx context.Context, attempts int, attempt func() error) error {
	for i := 1; ; i++ {
		err := attempt()
		if !errors.Is(err, ErrConcurrency) {
			return err
		}
		if i >= attempts {
			return Errorf(EConflict, "too many concurrent changes; retry the request")
		}
		// Jittered backoff spreads the losers of a race apart.
		d := time.Duration(rand.Int64N(int64(min(i, 10))*int64(time.Millisecond) + 1))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
}

// encode turns events into EventData with random IDs, or with the IDs given.
func encode(o Origin, events []Event, ids ...string) ([]EventData, error) {
	meta, err := json.Marshal(Metadata{
		ActorKeyID:    o.KeyID,
		RequestID:     o.RequestID,
		CorrelationID: cmp.Or(o.CorrelationID, o.RequestID),
		CausationID:   o.RequestID,
		Reason:        o.Reason,
	})
	if err != nil {
		return nil, fmt.Errorf("encode metadata: %w", err)
	}
	out := make([]EventData, len(events))
	for i, e := range events {
		data, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", e.EventType(), err)
		}
		id := NewID()
		if i < len(ids) {
			id = ids[i]
		}
		out[i] = EventData{ID: id, Type: e.EventType(), Data: data, Metadata: meta}
	}
	return out, nil
}
