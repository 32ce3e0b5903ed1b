package httpapi

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/referral-ledger/referral-ledger/domain"
)

// AppendEventLine appends e as a line of JSON: the bytes encoding/json's
// Encoder writes for EventOf(e), what `events export` writes, without its
// reflection. On an error (stored data or metadata that is not JSON) buf
// is left as it was.
func AppendEventLine(buf *bytes.Buffer, e domain.RecordedEvent) error {
	return appendLine(buf, e, false, nil)
}

// appendEventLine appends e as a line of NDJSON of a stream: the bytes
// encoding/json writes for auditedEvent{EventOf(e), leaf, nil}. A stream
// of the whole log writes a million; on an error buf is left as it was,
// so the stream's error line follows whole lines only.
func appendEventLine(buf *bytes.Buffer, e domain.RecordedEvent, leaf *int64) error {
	return appendLine(buf, e, true, leaf)
}

// appendLine appends e's line, with a leaf_index member if withLeaf
// (TestEventLineAsEncodingJSON holds both forms to encoding/json's bytes).
func appendLine(buf *bytes.Buffer, e domain.RecordedEvent, withLeaf bool, leaf *int64) error {
	start := buf.Len()
	b := buf.AvailableBuffer()
	b = strconv.AppendUint(append(b, `{"position":`...), e.Position, 10)
	b = appendJSONString(append(b, `,"stream":`...), e.Stream)
	b = strconv.AppendUint(append(b, `,"version":`...), e.Version, 10)
	b = appendJSONString(append(b, `,"id":`...), e.ID)
	b = appendJSONString(append(b, `,"type":`...), e.Type)
	b = e.RecordedAt.UTC().AppendFormat(append(b, `,"recorded_at":"`...), domain.TimeFormat)
	buf.Write(append(b, `","data":`...))
	err := appendRaw(buf, e.Data)
	if err == nil {
		buf.WriteString(`,"metadata":`)
		err = appendRaw(buf, e.Metadata)
	}
	if err != nil {
		buf.Truncate(start)
		return err
	}
	b = buf.AvailableBuffer()
	if withLeaf {
		b = append(b, `,"leaf_index":`...)
		if leaf == nil {
			b = append(b, "null"...)
		} else {
			b = strconv.AppendInt(b, *leaf, 10)
		}
	}
	buf.Write(append(b, "}\n"...))
	return nil
}

// appendJSONString appends s quoted as encoding/json quotes it: directly
// when every byte is printable ASCII that needs no escape (ids, streams
// and types are), else through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	return append(append(append(b, '"'), s...), '"')
}

// appendRaw appends a json.RawMessage as encoding/json does: null when
// nil, else compacted, with <, >, &, U+2028 and U+2029 escaped; invalid
// JSON is an error.
func appendRaw(buf *bytes.Buffer, raw []byte) error {
	if raw == nil {
		buf.WriteString("null")
		return nil
	}
	start := buf.Len()
	if err := json.Compact(buf, raw); err != nil {
		return err
	}
	if out := buf.Bytes()[start:]; bytes.ContainsAny(out, "<>&") || bytes.Contains(out, []byte("\u2028")) || bytes.Contains(out, []byte("\u2029")) {
		escaped := bytes.NewBuffer(make([]byte, 0, len(out)+16))
		json.HTMLEscape(escaped, out)
		buf.Truncate(start)
		buf.Write(escaped.Bytes())
	}
	return nil
}
