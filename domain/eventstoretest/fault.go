package eventstoretest

import (
	"context"
	"errors"
	"sync"

	"github.com/referral-ledger/referral-ledger/domain"
)

// ErrInjected is the error of an append that a FaultStore fails on purpose.
var ErrInjected = errors.New("eventstoretest: injected append failure")

// ErrStopped is what a stopped FaultStore answers: the process is dead.
var ErrStopped = errors.New("eventstoretest: the process has stopped")

// Fault is what a FaultStore does once its trigger append is written.
type Fault int

const (
	// FailNext fails the append after the trigger once, writing nothing,
	// then lets everything through: a command fails between its appends
	// and the process lives on.
	FailNext Fault = iota
	// Stop refuses every call after the trigger append, which is written
	// and acknowledged: the process dies between a command's appends. A
	// test then opens a new domain.Service over the inner store, as a
	// restarted process would.
	Stop
	// LoseAck writes the trigger append and answers it ErrInjected, then
	// lets everything through: the acknowledgement of a committed append
	// was lost (the connection broke after the commit).
	LoseAck
)

// FaultStore wraps an event store to break a multi-stream command between
// its appends, or to lose the acknowledgement of an append. It implements domain.EventStore and nothing else: it hides
// the inner store's domain.MultiAppender, so the domain service appends
// stream by stream, as it must on EventStoreDB.
type FaultStore struct {
	inner   domain.EventStore
	fault   Fault
	trigger func(stream string) bool

	mu      sync.Mutex
	fired   bool // the trigger append was written
	armed   bool // FailNext: the next append fails
	stopped bool
	refused []domain.StreamAppend
}

// NewFaultStore wraps inner. The first successful append to a stream for
// which trigger returns true is the trigger append; fault says what
// follows it.
func NewFaultStore(inner domain.EventStore, fault Fault, trigger func(stream string) bool) *FaultStore {
	return &FaultStore{inner: inner, fault: fault, trigger: trigger}
}

// Fired reports whether the trigger append has been written.
func (f *FaultStore) Fired() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fired
}

// Refused returns the appends that the fault kept from the inner store, in
// order: what a dead process never wrote, which a test may replay late.
func (f *FaultStore) Refused() []domain.StreamAppend {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]domain.StreamAppend(nil), f.refused...)
}

// refuse returns the error for a call that must not reach the inner store,
// recording the append if the call is one.
func (f *FaultStore) refuse(a *domain.StreamAppend) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var err error
	switch {
	case f.stopped:
		err = ErrStopped
	case f.armed && a != nil:
		f.armed = false
		err = ErrInjected
	default:
		return nil
	}
	if a != nil {
		f.refused = append(f.refused, *a)
	}
	return err
}

// Append appends through to the inner store unless the fault refuses it.
func (f *FaultStore) Append(ctx context.Context, stream string, expected domain.ExpectedRevision, events ...domain.EventData) (domain.AppendResult, error) {
	if err := f.refuse(&domain.StreamAppend{Stream: stream, Expected: expected, Events: events}); err != nil {
		return domain.AppendResult{}, err
	}
	res, err := f.inner.Append(ctx, stream, expected, events...)
	if err != nil {
		return res, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.fired && f.trigger(stream) {
		f.fired = true
		f.armed = f.fault == FailNext
		f.stopped = f.fault == Stop
		if f.fault == LoseAck {
			return domain.AppendResult{}, ErrInjected
		}
	}
	return res, nil
}

// ReadStream reads through to the inner store unless stopped.
func (f *FaultStore) ReadStream(ctx context.Context, stream string, from domain.Revision, limit int) ([]domain.RecordedEvent, error) {
	if err := f.refuse(nil); err != nil {
		return nil, err
	}
	return f.inner.ReadStream(ctx, stream, from, limit)
}

// ReadLast reads through to the inner store unless stopped.
func (f *FaultStore) ReadLast(ctx context.Context, stream string) (domain.RecordedEvent, error) {
	if err := f.refuse(nil); err != nil {
		return domain.RecordedEvent{}, err
	}
	return f.inner.ReadLast(ctx, stream)
}

// ReadAll reads through to the inner store unless stopped.
func (f *FaultStore) ReadAll(ctx context.Context, opts domain.ReadAllOptions) ([]domain.RecordedEvent, error) {
	if err := f.refuse(nil); err != nil {
		return nil, err
	}
	return f.inner.ReadAll(ctx, opts)
}

// WaitForEvents waits on the inner store unless stopped.
func (f *FaultStore) WaitForEvents(ctx context.Context, opts domain.ReadAllOptions) error {
	if err := f.refuse(nil); err != nil {
		return err
	}
	return f.inner.WaitForEvents(ctx, opts)
}
