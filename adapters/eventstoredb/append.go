package eventstoredb

import (
	"context"
	"errors"
	"fmt"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/referral-ledger/referral-ledger/domain"
)

// coded is what the client's *esdb.Error offers to tell one failure from
// another; errors.As finds it however deeply the error is wrapped.
type coded interface {
	error
	Code() esdb.ErrorCode
}

var _ coded = (*esdb.Error)(nil)

// hasCode reports whether err, or an error it wraps, is a client error
// with code c.
func hasCode(err error, c esdb.ErrorCode) bool {
	var e coded
	return errors.As(err, &e) && e.Code() == c
}

// expectedRevision maps the port's expected revision to the server's: our
// revision r is the server's event number r-1.
func expectedRevision(e domain.ExpectedRevision) esdb.ExpectedRevision {
	r, ok := e.Revision()
	switch {
	case !ok:
		return esdb.Any{}
	case r == 0:
		return esdb.NoStream{}
	}
	return esdb.StreamRevision{Value: r - 1}
}

// eventData turns events into the client's, with the caller's IDs as the
// server's event IDs. An ID must be a UUID in its canonical lowercase
// form, so that it reads back exactly as it was written.
func eventData(stream string, events []domain.EventData) ([]esdb.EventData, error) {
	out := make([]esdb.EventData, len(events))
	for i, e := range events {
		id, err := uuid.Parse(e.ID)
		if err != nil || id.String() != e.ID {
			return nil, fmt.Errorf("append %s: event ID %q is not a lowercase UUID", stream, e.ID)
		}
		out[i] = esdb.EventData{EventID: id, EventType: e.Type, ContentType: esdb.ContentTypeJson, Data: e.Data, Metadata: e.Metadata}
	}
	return out, nil
}

// appendError maps a failed append: a wrong expected version becomes
// domain.ErrConcurrency, with the client's error beside it.
func appendError(stream string, err error) error {
	if hasCode(err, esdb.ErrorCodeWrongExpectedVersion) {
		return fmt.Errorf("append %s: %w (%w)", stream, domain.ErrConcurrency, err)
	}
	return fmt.Errorf("append %s: %w", stream, err)
}

// Append adds events to a stream if its revision matches expected. A
// mismatch is domain.ErrConcurrency. An append whose events are already in
// the stream where expected puts them is a retry: the server writes nothing
// and answers with their revision, and the result describes them.
//
// The result's position is read back from the stream, since the server
// reports no position for a retried append; that costs one read per
// append, and it checks that the last event is the one appended.
func (s *Store) Append(ctx context.Context, stream string, expected domain.ExpectedRevision, events ...domain.EventData) (domain.AppendResult, error) {
	if err := domain.ValidateAppends([]domain.StreamAppend{{Stream: stream, Expected: expected, Events: events}}); err != nil {
		return domain.AppendResult{}, err
	}
	data, err := eventData(stream, events)
	if err != nil {
		return domain.AppendResult{}, err
	}
	res, err := s.client.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: expectedRevision(expected)}, data...)
	if err != nil {
		return domain.AppendResult{}, appendError(stream, err)
	}
	// NextExpectedVersion is the event number of the batch's last event.
	last, err := s.readAt(ctx, stream, res.NextExpectedVersion+1)
	if err != nil {
		return domain.AppendResult{}, fmt.Errorf("append %s: read back: %w", stream, err)
	}
	if want := events[len(events)-1].ID; last.ID != want {
		return domain.AppendResult{}, fmt.Errorf("append %s: revision %d holds event %s, not the appended %s",
			stream, last.Version, last.ID, want)
	}
	return domain.AppendResult{NextRevision: last.Version, Position: last.Position}, nil
}

// readAt reads the event of a stream at revision rev.
func (s *Store) readAt(ctx context.Context, stream string, rev domain.Revision) (domain.RecordedEvent, error) {
	evs, err := s.ReadStream(ctx, stream, rev, 1)
	if err != nil {
		return domain.RecordedEvent{}, err
	}
	if len(evs) == 0 || evs[0].Version != rev {
		return domain.RecordedEvent{}, fmt.Errorf("no event at revision %d", rev)
	}
	return evs[0], nil
}
