package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Canonicalize returns the RFC 8785 (JCS) form of the JSON text in:
// object members sorted by the UTF-16 code units of their names, no
// insignificant white space, numbers as ECMAScript prints them and strings
// with only the escapes RFC 8785 requires. Empty input is null (an event
// stored without data shows "data": null). Duplicate member names are an
// error, as RFC 8785 requires.
func Canonicalize(in []byte) ([]byte, error) {
	if len(bytes.TrimSpace(in)) == 0 {
		return []byte("null"), nil
	}
	if out, err := canonicalFast(in); err == nil {
		return out, nil
	}
	return canonicalSlow(in)
}

// canonicalSlow is Canonicalize through a token decoder: every JSON text.
func canonicalSlow(in []byte) ([]byte, error) {
	if len(bytes.TrimSpace(in)) == 0 {
		return []byte("null"), nil
	}
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.UseNumber()
	var buf bytes.Buffer
	if err := canonValue(dec, &buf); err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("canonical json: trailing data")
	}
	return buf.Bytes(), nil
}

// canonValue writes the next value of dec.
func canonValue(dec *json.Decoder, buf *bytes.Buffer) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			return canonArray(dec, buf)
		}
		return canonObject(dec, buf)
	case string:
		writeString(buf, t)
	case json.Number:
		s, err := formatNumber(t)
		if err != nil {
			return err
		}
		buf.WriteString(s)
	case bool:
		buf.WriteString(strconv.FormatBool(t))
	case nil:
		buf.WriteString("null")
	}
	return nil
}

func canonArray(dec *json.Decoder, buf *bytes.Buffer) error {
	buf.WriteByte('[')
	for i := 0; dec.More(); i++ {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := canonValue(dec, buf); err != nil {
			return err
		}
	}
	buf.WriteByte(']')
	_, err := dec.Token() // ]
	return err
}

func canonObject(dec *json.Decoder, buf *bytes.Buffer) error {
	type member struct {
		key   string
		value []byte
	}
	var members []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		var v bytes.Buffer
		if err := canonValue(dec, &v); err != nil {
			return err
		}
		members = append(members, member{key, v.Bytes()})
	}
	if _, err := dec.Token(); err != nil { // }
		return err
	}
	slices.SortFunc(members, func(a, b member) int { return compareUTF16(a.key, b.key) })
	buf.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			if members[i-1].key == m.key {
				return fmt.Errorf("duplicate member %q", m.key)
			}
			buf.WriteByte(',')
		}
		writeString(buf, m.key)
		buf.WriteByte(':')
		buf.Write(m.value)
	}
	buf.WriteByte('}')
	return nil
}

// compareUTF16 orders strings by their UTF-16 code units, as RFC 8785
// sorts member names (not by UTF-8 bytes, which differ above U+FFFF).
func compareUTF16(a, b string) int {
	return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
}

// writeString writes s with RFC 8785's escapes: \" \\ \b \t \n \f \r, other
// control characters as \u00xx, everything else as it is.
func writeString(buf *bytes.Buffer, s string) {
	buf.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			buf.WriteString(`\"`)
		case '\\':
			buf.WriteString(`\\`)
		case '\b':
			buf.WriteString(`\b`)
		case '\t':
			buf.WriteString(`\t`)
		case '\n':
			buf.WriteString(`\n`)
		case '\f':
			buf.WriteString(`\f`)
		case '\r':
			buf.WriteString(`\r`)
		default:
			if r < 0x20 {
				fmt.Fprintf(buf, `\u%04x`, r)
			} else {
				buf.WriteRune(r)
			}
		}
	}
	buf.WriteByte('"')
}

// formatNumber prints n as ECMAScript's Number.prototype.toString prints
// the IEEE 754 double nearest to it (RFC 8785 section 3.2.2.3).
func formatNumber(n json.Number) (string, error) {
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", fmt.Errorf("number %s is not a finite IEEE 754 double", n)
	}
	if f == 0 {
		return "0", nil // -0 too
	}
	sign := ""
	if f < 0 {
		sign, f = "-", -f
	}
	// Shortest round-trip digits d1..dk and exponent: f = 0.d1..dk × 10^e.
	sci := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±x
	mant, expStr, _ := strings.Cut(sci, "e")
	digits := strings.Replace(mant, ".", "", 1)
	x, _ := strconv.Atoi(expStr)
	k, e := len(digits), x+1
	switch {
	case k <= e && e <= 21:
		return sign + digits + strings.Repeat("0", e-k), nil
	case 0 < e && e <= 21:
		return sign + digits[:e] + "." + digits[e:], nil
	case -6 < e && e <= 0:
		return sign + "0." + strings.Repeat("0", -e) + digits, nil
	}
	exp := "e+" + strconv.Itoa(e-1)
	if e-1 < 0 {
		exp = "e-" + strconv.Itoa(1-e)
	}
	if k == 1 {
		return sign + digits + exp, nil
	}
	return sign + digits[:1] + "." + digits[1:] + exp, nil
}
