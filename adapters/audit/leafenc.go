package audit

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strconv"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/referral-ledger/referral-ledger/domain"
)

// leafEncoder appends events' leaf bytes (Leaf.Bytes) to a buffer, with
// none of its allocations on the ledger's events: strings of printable
// ASCII without escapes, data and metadata on canonicalFast's path. It
// keeps its parser's room between leaves: one per goroutine.
type leafEncoder struct {
	p fastParser
}

// appendLeaf appends e's leaf bytes to dst: LeafOf(e).Bytes().
func (enc *leafEncoder) appendLeaf(dst []byte, e *domain.RecordedEvent) []byte {
	var room [32]byte
	at := appendTime(room[:0], e.RecordedAt)
	return enc.appendParts(dst, e.Data, e.ID, e.Metadata, string(at), e.Stream, e.Type, e.Version)
}

// appendParts appends the leaf of these members: the RFC 8785 canonical
// JSON of the seven, in its order (all ASCII names: byte order).
func (enc *leafEncoder) appendParts(dst, data []byte, id string, metadata []byte, recordedAt, stream, typ string, version uint64) []byte {
	dst = enc.appendCanonical(append(dst, `{"data":`...), data)
	dst = appendLeafString(append(dst, `,"id":`...), id)
	dst = enc.appendCanonical(append(dst, `,"metadata":`...), metadata)
	dst = appendLeafString(append(dst, `,"recorded_at":`...), recordedAt)
	dst = appendLeafString(append(dst, `,"stream":`...), stream)
	dst = appendLeafString(append(dst, `,"type":`...), typ)
	dst = append(dst, `,"version":`...)
	if version <= 1<<53 { // an exact double: ECMAScript prints its digits
		return append(strconv.AppendUint(dst, version, 10), '}')
	}
	v, err := formatNumber(json.Number(strconv.FormatUint(version, 10)))
	if err != nil {
		v = "0" // unreachable: every uint64 is a finite double
	}
	return append(append(dst, v...), '}')
}

// appendCanonical appends raw's RFC 8785 form, as canonicalOrText has it.
func (enc *leafEncoder) appendCanonical(dst, raw []byte) []byte {
	enc.p.in, enc.p.i = raw, 0
	if out, err := enc.p.value(dst, 0); err == nil {
		if enc.p.space(); enc.p.i == len(raw) {
			return out
		}
	}
	return append(dst, canonicalOrText(raw)...)
}

// plain holds the bytes a JSON string holds as they are in RFC 8785 form:
// printable ASCII but the quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c <= 0x7e; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendLeafString appends s as a JSON string, as writeString writes it.
func appendLeafString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !plain[s[i]] {
			var buf bytes.Buffer
			writeString(&buf, s)
			return append(dst, buf.Bytes()...)
		}
	}
	return append(append(append(dst, '"'), s...), '"')
}

// appendTime appends t as TimeFormat formats it in UTC.
func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, TimeFormat)
	}
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	two := func(dst []byte, v int) []byte { return append(dst, byte('0'+v/10), byte('0'+v%10)) }
	dst = two(two(dst, year/100), year%100)
	dst = two(append(dst, '-'), int(month))
	dst = two(append(dst, '-'), day)
	dst = two(append(dst, 'T'), hour)
	dst = two(append(dst, ':'), minute)
	dst = two(append(dst, ':'), sec)
	return append(dst, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

// encodeLeaves returns the leaf bytes and leaf hashes of events, computed
// by up to GOMAXPROCS goroutines for a long batch (a backlog's), each
// encoding a run of consecutive events into one buffer of its own.
func encodeLeaves(events []domain.RecordedEvent) ([][]byte, []tlog.Hash) {
	leaves, hashes := make([][]byte, len(events)), make([]tlog.Hash, len(events))
	encode := func(from, to int) {
		var enc leafEncoder
		ends := make([]int, to-from)
		// The leaves are about as long as what they encode: room for
		// all of them at once, so that buf does not grow, and copy
		// itself, as a batch of hundreds of leaves is appended.
		size := 0
		for i := from; i < to; i++ {
			e := &events[i]
			size += len(e.Data) + len(e.Metadata) + len(e.ID) + len(e.Stream) + len(e.Type) + leafOverhead
		}
		buf := make([]byte, 0, size)
		for i := from; i < to; i++ {
			buf = enc.appendLeaf(buf, &events[i])
			ends[i-from] = len(buf)
		}
		start := 0
		for i := from; i < to; i++ {
			leaves[i] = buf[start:ends[i-from]:ends[i-from]]
			hashes[i] = tlog.RecordHash(leaves[i])
			start = ends[i-from]
		}
	}
	workers := min(runtime.GOMAXPROCS(0), (len(events)+parallelLeaves-1)/parallelLeaves)
	if workers <= 1 {
		encode(0, len(events))
		return leaves, hashes
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { encode(w*len(events)/workers, (w+1)*len(events)/workers) })
	}
	wg.Wait()
	return leaves, hashes
}

// leafOverhead is what a leaf holds beyond its event's data, metadata,
// id, stream and type: the member names, quotes and separators (about
// 75 bytes), the version and the time.
const leafOverhead = 128

// parallelLeaves is how many leaves a goroutine of encodeLeaves encodes
// at least: fewer are not worth starting one.
const parallelLeaves = 512
