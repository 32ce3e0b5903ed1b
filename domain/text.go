package domain

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The one home of the rules for text that commands store. Every rule is
// about what a store, a read model or a reader can hold safely: PostgreSQL
// text cannot hold NUL, terminals run escapes, bidi controls make a log
// line read other than it is. Lengths are in bytes of UTF-8, the unit the
// stores pay for.
const (
	// MaxIDLen bounds identifiers (user IDs, milestone names, webhook and
	// delivery IDs).
	MaxIDLen = 128
	// MaxCodeLen bounds a referral code as a caller may present it.
	MaxCodeLen = 64
	// MaxNameLen bounds display names.
	MaxNameLen = 128
	// MaxReasonLen bounds free-text reasons and notes.
	MaxReasonLen = 500
	// MaxMetadataBytes bounds a referral's metadata as sent, and in its
	// canonical form (RFC 8785), which the audit log's leaf holds.
	MaxMetadataBytes = 16 << 10
	// MaxMetadataDepth bounds the nesting of metadata (the object itself
	// is depth 1).
	MaxMetadataDepth = 8
)

// ValidateID checks an identifier or a milestone name: 1 to MaxIDLen bytes
// of UTF-8 without surrounding spaces, control or bidi characters.
func ValidateID(field, v string) error {
	if v == "" || len(v) > MaxIDLen || strings.TrimSpace(v) != v {
		return Errorf(EInvalid, "%s must be 1 to %d bytes without surrounding spaces", field, MaxIDLen)
	}
	return ValidateText(field, v, MaxIDLen)
}

// ValidateCode checks a referral code as a caller presents it; a code that
// passes may still name no referral.
func ValidateCode(field, v string) error {
	if v == "" {
		return Errorf(EInvalid, "%s is required", field)
	}
	if len(v) > MaxCodeLen || strings.TrimSpace(v) != v {
		return Errorf(EInvalid, "%s must be 1 to %d bytes without surrounding spaces", field, MaxCodeLen)
	}
	return ValidateText(field, v, MaxCodeLen)
}

// ValidateName checks an optional display name: at most MaxNameLen bytes,
// no control or bidi characters. Spaces are the caller's business.
func ValidateName(field string, v *string) error {
	if v == nil {
		return nil
	}
	return ValidateText(field, *v, MaxNameLen)
}

// ValidateReason checks free text such as a reason or a note: at most
// MaxReasonLen bytes; line feeds and tabs are allowed, other control
// characters and bidi controls are not.
func ValidateReason(field, v string) error {
	return checkText(field, v, MaxReasonLen, "\n\t")
}

// ValidateText checks text of at most max bytes: valid UTF-8, without
// control characters (Unicode Cc: C0, DEL, C1) or bidi controls.
func ValidateText(field, v string, max int) error {
	return checkText(field, v, max, "")
}

func checkText(field, v string, max int, allowed string) error {
	if len(v) > max {
		return Errorf(EInvalid, "%s is longer than %d bytes", field, max)
	}
	if !utf8.ValidString(v) {
		return Errorf(EInvalid, "%s must be valid UTF-8", field)
	}
	for _, r := range v {
		switch {
		case isControl(r) && !strings.ContainsRune(allowed, r):
			return Errorf(EInvalid, "%s must not contain control characters", field)
		case isBidiControl(r):
			return Errorf(EInvalid, "%s must not contain bidirectional control characters", field)
		}
	}
	return nil
}

// isControl reports Unicode category Cc: C0, DEL and C1.
func isControl(r rune) bool { return r < 0x20 || (r >= 0x7f && r <= 0x9f) }

// isBidiControl reports the characters that reorder displayed text.
func isBidiControl(r rune) bool {
	switch {
	case r == 0x061c, r == 0x200e, r == 0x200f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// ValidateMetadata checks a referral's metadata: empty, or a JSON object of
// at most MaxMetadataBytes and MaxMetadataDepth levels, whose keys pass
// ValidateText and whose strings hold no NUL (PostgreSQL text cannot).
//
// The bound holds for the canonical form too. The audit log's leaf is the
// event's RFC 8785 form, and an entry bundle's length prefix is 16 bits:
// canonical numbers are written out in full, so 16 KiB of "1e20," (5
// bytes each, 21 digits canonical) made a leaf of over 64 KiB, which no
// bundle can hold, and every entries tile around it failed. Canonical
// strings are never longer than a valid input's (escapes only shrink),
// whitespace goes, and members are only reordered: only numbers grow.
func ValidateMetadata(raw json.RawMessage) error {
	if len(raw) == 0 {
		return nil
	}
	if len(raw) > MaxMetadataBytes {
		return Errorf(EInvalid, "metadata is larger than %d bytes", MaxMetadataBytes)
	}
	if !utf8.Valid(raw) {
		return Errorf(EInvalid, "metadata must be valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return Errorf(EInvalid, "metadata must be a JSON object")
	}
	type frame struct{ object, wantKey bool }
	open := []frame{{object: true, wantKey: true}}
	grown := 0 // what canonical numbers add to the length
	for len(open) > 0 {
		t, err := dec.Token()
		if err != nil {
			return Errorf(EInvalid, "metadata is not valid JSON")
		}
		f := &open[len(open)-1]
		if d, ok := t.(json.Delim); ok && (d == '}' || d == ']') {
			open = open[:len(open)-1]
			continue
		}
		isKey := f.object && f.wantKey
		if f.object {
			f.wantKey = !f.wantKey
		}
		switch v := t.(type) {
		case json.Delim:
			if len(open) >= MaxMetadataDepth {
				return Errorf(EInvalid, "metadata is nested deeper than %d levels", MaxMetadataDepth)
			}
			open = append(open, frame{object: v == '{', wantKey: true})
		case string:
			if isKey {
				if err := ValidateText("metadata key", v, MaxIDLen); err != nil {
					return err
				}
			} else if strings.ContainsRune(v, 0) {
				return Errorf(EInvalid, "metadata strings must not contain NUL")
			}
		case json.Number:
			grown += canonicalNumberLen(string(v)) - len(v)
		}
	}
	if len(raw)+grown > MaxMetadataBytes {
		return Errorf(EInvalid, "metadata is larger than %d bytes in canonical form (RFC 8785: numbers written out in full)", MaxMetadataBytes)
	}
	return nil
}

// canonicalNumberLen is the length of the JSON number s as RFC 8785
// writes it (ECMAScript's Number.prototype.toString of the nearest
// double), or len(s) when it is no finite double (the leaf then keeps the
// text as sent).
func canonicalNumberLen(s string) int {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return len(s)
	}
	if f == 0 {
		return 1 // "0", -0 included
	}
	sign := 0
	if f < 0 {
		sign = 1
	}
	// The shortest digits that round-trip, and where the point goes: the
	// value is 0.digits × 10^n.
	mant, exp, _ := strings.Cut(strconv.FormatFloat(math.Abs(f), 'e', -1, 64), "e")
	k := len(mant) - strings.Count(mant, ".")
	e, _ := strconv.Atoi(exp)
	n := e + 1
	switch {
	case k <= n && n <= 21: // digits, then n-k zeros
		return sign + n
	case 0 < n && n <= 21: // a point inside the digits
		return sign + k + 1
	case -6 < n && n <= 0: // "0." then -n zeros, then the digits
		return sign + 2 - n + k
	}
	l := sign + k + 2 + len(strconv.Itoa(abs(n-1))) // d[.ddd]e±x
	if k > 1 {
		l++
	}
	return l
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// TimeFormat is the timestamp format of the API and of webhook payloads:
// RFC 3339 in UTC with milliseconds. Format a UTC time with it.
const TimeFormat = "2006-01-02T15:04:05.000Z"
