package eventstoredb

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

// The server stamps every event with its own created time and takes no
// other, so an imported event keeps its recorded time in its metadata, in
// an envelope under reserved keys that the read path opens again:
//
//	{"$ledger.recorded_at":"<RFC 3339>","$ledger.metadata":<the metadata>}
//
// "$ledger.metadata" is absent when the event had none. The envelope is
// written byte for byte, so the original metadata reads back exactly.
// Events appended by the service carry their metadata as given and read
// back with the server's time.
const (
	keyRecordedAt = "$ledger.recorded_at"
	keyMetadata   = "$ledger.metadata"
	envelopeStart = `{"` + keyRecordedAt + `":`
)

// envelope is an imported event's metadata.
type envelope struct {
	RecordedAt time.Time       `json:"$ledger.recorded_at"`
	Metadata   json.RawMessage `json:"$ledger.metadata"`
}

// wrap writes an imported event's metadata: its recorded time and its own.
func wrap(e domain.RecordedEvent) []byte {
	var b bytes.Buffer
	b.WriteString(envelopeStart)
	b.WriteString(`"` + e.RecordedAt.UTC().Format(time.RFC3339Nano) + `"`)
	if len(e.Metadata) > 0 {
		b.WriteString(`,"` + keyMetadata + `":`)
		b.Write(e.Metadata)
	}
	b.WriteString("}")
	return b.Bytes()
}

// unwrap opens an imported event's envelope: the recorded time and the
// metadata it keeps. ok is false for any other metadata.
func unwrap(meta []byte) (at time.Time, inner []byte, ok bool) {
	if !bytes.HasPrefix(meta, []byte(envelopeStart)) {
		return time.Time{}, nil, false
	}
	var env envelope
	if err := json.Unmarshal(meta, &env); err != nil || env.RecordedAt.IsZero() {
		return time.Time{}, nil, false
	}
	if len(env.Metadata) == 0 {
		return env.RecordedAt.UTC(), nil, true
	}
	return env.RecordedAt.UTC(), env.Metadata, true
}

// Import appends events recorded elsewhere — ID, stream, version, data,
// metadata and, in the envelope above, the recorded time — in the order
// given; positions are the server's. It is the events import command's
// path, not part of domain.EventStore. Each run of one stream's events is
// one append expecting the revision before its first event: a mismatch is
// domain.ErrConcurrency, and a run an interrupted import already wrote is
// a retry the server recognises by the event IDs. The server has no
// multi-stream transaction, so a failure may leave the earlier runs
// written; the events import command reruns from there.
func (s *Store) Import(ctx context.Context, events []domain.RecordedEvent) error {
	if _, err := domain.CheckImport(events); err != nil {
		return err
	}
	for start := 0; start < len(events); {
		end := start + 1
		for end < len(events) && events[end].Stream == events[start].Stream {
			end++
		}
		run := make([]domain.EventData, 0, end-start)
		for _, e := range events[start:end] {
			run = append(run, domain.EventData{ID: e.ID, Type: e.Type, Data: e.Data, Metadata: wrap(e)})
		}
		first := events[start]
		if _, err := s.Append(ctx, first.Stream, domain.Exact(first.Version-1), run...); err != nil {
			return fmt.Errorf("import: %w", err)
		}
		start = end
	}
	return nil
}
