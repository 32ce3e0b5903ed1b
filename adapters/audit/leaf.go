// Package audit makes each appspace's part of the event log a verifiable
// Merkle log (RFC 6962 hashing, as golang.org/x/mod/sumdb/tlog computes
// it): a sealer gives every event a leaf, signed checkpoints commit to the
// tree, and proofs let anyone holding a checkpoint check that an event is
// in the log and that the log only grew.
package audit

import (
	"bytes"
	"encoding/json"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/referral-ledger/referral-ledger/domain"
)

// TimeFormat is how leaves write recorded_at: the API's timestamps, UTC
// with milliseconds, so a leaf is rebuilt from what GET /events shows.
const TimeFormat = domain.TimeFormat

// Leaf is the part of an event a leaf commits to, with the values the
// events endpoint shows.
type Leaf struct {
	ID         string          `json:"id"`
	Stream     string          `json:"stream"`
	Version    uint64          `json:"version"`
	Type       string          `json:"type"`
	RecordedAt string          `json:"recorded_at"`
	Data       json.RawMessage `json:"data"`
	Metadata   json.RawMessage `json:"metadata"`
}

// LeafOf returns the leaf of a recorded event.
func LeafOf(e domain.RecordedEvent) Leaf {
	return Leaf{ID: e.ID, Stream: e.Stream, Version: e.Version, Type: e.Type,
		RecordedAt: e.RecordedAt.UTC().Format(TimeFormat), Data: e.Data, Metadata: e.Metadata}
}

// Bytes returns the leaf's bytes: the RFC 8785 canonical JSON of its
// seven members. It never fails: data or metadata that is not JSON (no
// event the ledger appends) is committed to as a JSON string of its text,
// so that one odd event cannot stop the tree.
func (l Leaf) Bytes() []byte {
	var enc leafEncoder
	return enc.appendParts(nil, l.Data, l.ID, l.Metadata, l.RecordedAt, l.Stream, l.Type, l.Version)
}

// Hash returns the leaf hash: SHA-256(0x00 ‖ bytes).
func (l Leaf) Hash() tlog.Hash { return tlog.RecordHash(l.Bytes()) }

func canonicalOrText(raw []byte) []byte {
	c, err := Canonicalize(raw)
	if err != nil {
		var buf bytes.Buffer
		writeString(&buf, string(raw))
		return buf.Bytes()
	}
	return c
}

// ParseLeaf reads leaf bytes back (for reporting what differs).
func ParseLeaf(b []byte) (Leaf, error) {
	var l Leaf
	err := json.Unmarshal(b, &l)
	return l, err
}

// Diff names the members in which two leaves differ ("" when none).
func Diff(sealed, now Leaf) string {
	var out []string
	add := func(name string, differs bool) {
		if differs {
			out = append(out, name)
		}
	}
	add("id", sealed.ID != now.ID)
	add("stream", sealed.Stream != now.Stream)
	add("version", sealed.Version != now.Version)
	add("type", sealed.Type != now.Type)
	add("recorded_at", sealed.RecordedAt != now.RecordedAt)
	add("data", !bytes.Equal(canonicalOrText(sealed.Data), canonicalOrText(now.Data)))
	add("metadata", !bytes.Equal(canonicalOrText(sealed.Metadata), canonicalOrText(now.Metadata)))
	if len(out) == 0 {
		return ""
	}
	s := out[0]
	for _, o := range out[1:] {
		s += ", " + o
	}
	return s
}
