package domain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrConcurrency reports that a stream's current revision did not match the
// revision an append expected. The caller reloads the stream and decides again.
var ErrConcurrency = errors.New("concurrency conflict: stream revision changed")

// ErrStreamNotFound reports a read of a stream that has no events.
var ErrStreamNotFound = errors.New("stream not found")

// ErrUnknownPosition reports a read of the global log after a position
// that names no event and is not past its end: a cursor no reader was given.
var ErrUnknownPosition = errors.New("position names no event")

// ErrPastEnd reports a read of the global log after a position beyond its
// last event: a cursor no reader was given either, but one that the API
// answers with an empty page.
var ErrPastEnd = errors.New("position is past the end of the log")

// Revision is a stream revision: the version of a stream's last event.
// The first event of a stream has revision 1; an empty stream has revision 0.
type Revision = uint64

// Position is a cursor into the global log: the position of an event that a
// reader has seen. Zero means "before the first event". Positions are unique
// but, depending on the store, need not grow in the order the log is read
// (PostgreSQL reads in commit order); always resume from the last position
// seen rather than comparing positions.
type Position = uint64

type expectKind uint8

const (
	expectAny expectKind = iota
	expectNoStream
	expectExact
)

// ExpectedRevision is the condition an append places on a stream.
type ExpectedRevision struct {
	kind expectKind
	rev  Revision
}

// Any appends whatever the stream's revision is.
func Any() ExpectedRevision { return ExpectedRevision{kind: expectAny} }

// NoStream appends only if the stream has no events.
func NoStream() ExpectedRevision { return ExpectedRevision{kind: expectNoStream} }

// Exact appends only if the stream's last event has revision r. Exact(0) is NoStream.
func Exact(r Revision) ExpectedRevision {
	if r == 0 {
		return NoStream()
	}
	return ExpectedRevision{kind: expectExact, rev: r}
}

// IsAny reports whether e places no condition on the stream.
func (e ExpectedRevision) IsAny() bool { return e.kind == expectAny }

// Revision returns the revision e expects the stream to be at (0 for NoStream)
// and false for Any.
func (e ExpectedRevision) Revision() (Revision, bool) {
	switch e.kind {
	case expectNoStream:
		return 0, true
	case expectExact:
		return e.rev, true
	}
	return 0, false
}

func (e ExpectedRevision) String() string {
	switch e.kind {
	case expectNoStream:
		return "no stream"
	case expectExact:
		return fmt.Sprintf("revision %d", e.rev)
	}
	return "any"
}

// EventData is an event to append. ID is chosen by the caller: appending an
// event whose ID is already in the stream is recognised as a retry.
type EventData struct {
	ID       string
	Type     string
	Data     []byte // JSON
	Metadata []byte // JSON
}

// RecordedEvent is an event as stored.
type RecordedEvent struct {
	Position   Position
	Stream     string
	Version    Revision
	ID         string
	Type       string
	Data       []byte
	Metadata   []byte
	RecordedAt time.Time
}

// AppendResult says where an append left the stream.
type AppendResult struct {
	// NextRevision is the stream's revision after the append.
	NextRevision Revision
	// Position is the global position of the last event appended.
	Position Position
}

// StreamAppend is one stream's part of a multi-stream append.
type StreamAppend struct {
	Stream   string
	Expected ExpectedRevision
	Events   []EventData
}

// ReadAllOptions narrows a read of the global log.
type ReadAllOptions struct {
	// After is the position of the last event already seen; 0 reads from the start.
	After Position
	// Limit caps the number of events returned; 0 means 1000.
	Limit int
	// StreamPrefix, when set, returns only events of streams whose name starts with it.
	StreamPrefix string
}

// EventStore is the port every event store adapter implements. The
// conformance suite in domain/eventstoretest states its contract.
type EventStore interface {
	// Append adds events to the end of a stream if its revision matches
	// expected. It returns ErrConcurrency on a mismatch. If the first event's
	// ID is already in the stream the append is a retry: nothing is written
	// and the result describes the events already stored.
	Append(ctx context.Context, stream string, expected ExpectedRevision, events ...EventData) (AppendResult, error)
	// ReadStream returns up to limit events of a stream with revision >= from,
	// oldest first; limit <= 0 means no limit. A stream with no events
	// returns an empty slice and no error.
	ReadStream(ctx context.Context, stream string, from Revision, limit int) ([]RecordedEvent, error)
	// ReadLast returns a stream's last event, or ErrStreamNotFound.
	ReadLast(ctx context.Context, stream string) (RecordedEvent, error)
	// ReadAll returns events of the global log after opts.After in the
	// store's stable order. Every event that a later call could return after
	// the same position is returned by this one or a later one: no reader ever
	// skips an event committed late. An event may become readable here a
	// moment after its Append returned (PostgreSQL holds it back while an
	// older transaction is open). A position that names no event is an
	// error, wrapping ErrPastEnd if it is beyond the log's last event and
	// ErrUnknownPosition otherwise (where positions grow in read order, a
	// position past the end may read as empty instead).
	ReadAll(ctx context.Context, opts ReadAllOptions) ([]RecordedEvent, error)
	// WaitForEvents blocks until ReadAll with opts may return events (after
	// opts.After, of streams starting with opts.StreamPrefix), or ctx ends.
	// It may return early (spuriously); callers then ReadAll again.
	WaitForEvents(ctx context.Context, opts ReadAllOptions) error
}

// MultiAppender is implemented by stores that can append to several streams
// in one atomic transaction (the SQL stores). The domain service uses it when
// present; without it the service appends stream by stream, in an order that
// the next command can repair if the process dies in between.
type MultiAppender interface {
	// AppendMulti appends to every stream or to none. A revision mismatch on
	// any stream is ErrConcurrency. Each stream's part is checked as Append
	// would: a part whose first event is already in its stream is a retry,
	// written no second time, and the rest of the batch is appended.
	AppendMulti(ctx context.Context, appends []StreamAppend) ([]AppendResult, error)
}

// StreamRead is one stream's part of a BatchReader read: its last event
// when Last is set, otherwise up to Limit events (0: all) with revision >=
// From, oldest first, as ReadStream returns them.
type StreamRead struct {
	Stream string
	Last   bool
	From   Revision
	Limit  int
}

// BatchReader is implemented by stores that read several streams in one
// call, in one round trip to a database server (PostgreSQL). The domain
// service reads the streams a command decides on through it when present,
// and stream by stream otherwise.
type BatchReader interface {
	// ReadStreams returns each read's events, in the order of reads; an
	// empty stream reads as no events.
	ReadStreams(ctx context.Context, reads []StreamRead) ([][]RecordedEvent, error)
}

// MaxEventsPerAppend caps the events of one stream's part of an append.
const MaxEventsPerAppend = 10000

// ValidateAppends rejects what no store may write: no streams, an empty
// stream name or batch, too many events, an event without an ID or a type,
// an ID used twice, data or metadata that is not JSON. Adapters call it
// before writing; its errors are plain (they are the caller's bugs, not
// conflicts).
func ValidateAppends(appends []StreamAppend) error {
	if len(appends) == 0 {
		return errors.New("append: no streams")
	}
	seen := map[string]bool{}
	for _, a := range appends {
		switch {
		case a.Stream == "":
			return errors.New("append: empty stream name")
		case len(a.Events) == 0:
			return fmt.Errorf("append %s: no events", a.Stream)
		case len(a.Events) > MaxEventsPerAppend:
			return fmt.Errorf("append %s: %d events, more than %d", a.Stream, len(a.Events), MaxEventsPerAppend)
		}
		for _, e := range a.Events {
			switch {
			case e.ID == "" || e.Type == "":
				return fmt.Errorf("append %s: event without an ID or a type", a.Stream)
			case seen[e.ID]:
				return fmt.Errorf("append %s: event ID %s appears twice", a.Stream, e.ID)
			case len(e.Data) > 0 && !json.Valid(e.Data), len(e.Metadata) > 0 && !json.Valid(e.Metadata):
				return fmt.Errorf("append %s: event %s: data or metadata is not JSON", a.Stream, e.ID)
			}
			seen[e.ID] = true
		}
	}
	return nil
}
