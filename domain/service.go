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

// Service runs the referral commands: it loads streams, lets the aggregates
// decide, and appends with the expected revision, retrying on conflicts.
type Service struct {
	store       EventStore
	now         func() time.Time
	newCode     func() string
	maxAttempts int
}

// NewService returns a Service over store.
func NewService(store EventStore, cfg ServiceConfig) *Service {
	s := &Service{store: store, now: cfg.Now, newCode: cfg.NewCode, maxAttempts: cfg.MaxAttempts}
	if s.now == nil {
		s.now = time.Now
	}
	if s.newCode == nil {
		s.newCode = NewReferralCode
	}
	if s.maxAttempts <= 0 {
		s.maxAttempts = 50
	}
	return s
}

// Store returns the event store the service appends to.
func (s *Service) Store() EventStore { return s.store }

// clock returns the current time in UTC, truncated to the millisecond the
// API shows, so the log and the API agree.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// retry runs attempt until it returns something other than ErrConcurrency.
func (s *Service) retry(ctx context.Context, attempt func() error) error {
	for i := 1; ; i++ {
		err := attempt()
		if !errors.Is(err, ErrConcurrency) {
			return err
		}
		if i >= s.maxAttempts {
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

// appendAll appends to several streams: atomically where the store can,
// otherwise one stream after another in the order given. Callers order the
// appends so that a crash part way is repaired by the next command.
func (s *Service) appendAll(ctx context.Context, appends []StreamAppend) error {
	if len(appends) == 0 {
		return nil
	}
	if m, ok := s.store.(MultiAppender); ok && len(appends) > 1 {
		_, err := m.AppendMulti(ctx, appends)
		return s.unlessLanded(ctx, err, appends...)
	}
	for _, a := range appends {
		_, err := s.store.Append(ctx, a.Stream, a.Expected, a.Events...)
		if err := s.unlessLanded(ctx, err, a); err != nil {
			return err
		}
	}
	return nil
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

// readStream reads a whole stream.
func (s *Service) readStream(ctx context.Context, stream string) ([]RecordedEvent, error) {
	const page = 1000
	var all []RecordedEvent
	for {
		evs, err := s.store.ReadStream(ctx, stream, Revision(len(all))+1, page)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", stream, err)
		}
		all = append(all, evs...)
		if len(evs) < page {
			return all, nil
		}
	}
}

func (s *Service) loadReferral(ctx context.Context, appspaceID, code string) (*Referral, error) {
	evs, err := s.readStream(ctx, ReferralStream(appspaceID, code))
	if err != nil {
		return nil, err
	}
	return LoadReferral(appspaceID, evs)
}

// readLast reads a stream's last event, decoded; ok is false for an empty stream.
func (s *Service) readLast(ctx context.Context, stream string) (rec RecordedEvent, e Event, ok bool, err error) {
	rec, err = s.store.ReadLast(ctx, stream)
	if errors.Is(err, ErrStreamNotFound) {
		return rec, nil, false, nil
	}
	if err != nil {
		return rec, nil, false, fmt.Errorf("read last of %s: %w", stream, err)
	}
	e, err = DecodeEvent(rec.Type, rec.Data)
	return rec, e, err == nil, err
}

// Now returns the service's current time as commands see it: what a
// reward's status is judged against when a referral is shown.
func (s *Service) Now() time.Time { return s.clock() }
