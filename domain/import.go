package domain

import (
	"encoding/json"
	"errors"
	"fmt"
)

// CheckImport checks a batch of recorded events that an adapter's Import
// is to write as they are (moving a log between stores keeps each event's
// ID, stream, version, recorded time, data and metadata). Within the batch
// each stream's versions must run on by one and IDs must be unique. It
// returns, per stream, the revision the stream must be at before the batch
// (its first event's version minus one): the adapter checks that in the
// transaction that writes, so an import never writes a version twice nor
// leaves a gap.
func CheckImport(events []RecordedEvent) (map[string]Revision, error) {
	if len(events) == 0 {
		return nil, errors.New("import: no events")
	}
	before := map[string]Revision{}
	last := map[string]Revision{}
	seen := map[string]bool{}
	for _, e := range events {
		switch {
		case e.Stream == "" || e.ID == "" || e.Type == "":
			return nil, errors.New("import: an event without a stream, an ID or a type")
		case seen[e.ID]:
			return nil, fmt.Errorf("import: event ID %s appears twice", e.ID)
		case e.RecordedAt.IsZero():
			return nil, fmt.Errorf("import: event %s has no recorded time", e.ID)
		case len(e.Data) > 0 && !json.Valid(e.Data), len(e.Metadata) > 0 && !json.Valid(e.Metadata):
			return nil, fmt.Errorf("import: event %s: data or metadata is not JSON", e.ID)
		}
		prev, ok := last[e.Stream]
		switch {
		case !ok && e.Version < 1:
			return nil, fmt.Errorf("import: event %s has version 0", e.ID)
		case !ok:
			before[e.Stream] = e.Version - 1
		case e.Version != prev+1:
			return nil, fmt.Errorf("import: event %s is version %d of %s, which the batch left at %d", e.ID, e.Version, e.Stream, prev)
		}
		last[e.Stream], seen[e.ID] = e.Version, true
	}
	return before, nil
}
