package audit

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
)

// errSlow sends a value the fast canonicalizer does not handle to the
// general one (Canonicalize's token decoder).
var errSlow = errors.New("not on the fast path")

// canonicalFast canonicalizes the JSON the ledger's events hold in one
// pass over the bytes, without a token decoder: objects, arrays, true,
// false, null, integers of at most 15 digits (their ECMAScript form is
// their digits) and strings of printable ASCII without escapes (their
// RFC 8785 form is themselves). Anything else (escapes, other characters,
// fractions, exponents, long numbers, duplicate names, bad JSON) returns
// errSlow, and the general canonicalizer decides. Its output equals the
// general one's wherever it answers (a test holds them to it).
func canonicalFast(in []byte) ([]byte, error) {
	p := fastParser{in: in}
	out := make([]byte, 0, len(in))
	out, err := p.value(out, 0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.in) {
		return nil, errSlow
	}
	return out, nil
}

type fastParser struct {
	in []byte
	i  int
}

func (p *fastParser) space() {
	if p.i < len(p.in) && p.in[p.i] > ' ' {
		return // the common case: compact JSON
	}
	for p.i < len(p.in) && (p.in[p.i] == ' ' || p.in[p.i] == '\t' || p.in[p.i] == '\n' || p.in[p.i] == '\r') {
		p.i++
	}
}

// value appends the canonical form of the next value to out.
func (p *fastParser) value(out []byte, depth int) ([]byte, error) {
	p.space()
	if p.i >= len(p.in) || depth > 64 {
		return nil, errSlow
	}
	switch c := p.in[p.i]; {
	case c == '{':
		return p.object(out, depth)
	case c == '[':
		return p.array(out, depth)
	case c == '"':
		s, err := p.str()
		return append(out, s...), err
	case c == '-' || (c >= '0' && c <= '9'):
		return p.integer(out)
	}
	for _, lit := range []string{"true", "false", "null"} {
		if bytes.HasPrefix(p.in[p.i:], []byte(lit)) {
			p.i += len(lit)
			return append(out, lit...), nil
		}
	}
	return nil, errSlow
}

// str returns the next string, quotes included, if it is printable ASCII
// without escapes. It skips eight plain bytes at a time while it can
// (most of a leaf's bytes are in strings: ids, streams, times).
func (p *fastParser) str() ([]byte, error) {
	start := p.i
	p.i++
	for p.i+8 <= len(p.in) && plain8(binary.LittleEndian.Uint64(p.in[p.i:])) {
		p.i += 8
	}
	for ; p.i < len(p.in); p.i++ {
		switch c := p.in[p.i]; {
		case c == '"':
			p.i++
			return p.in[start:p.i], nil
		case c == '\\' || c < 0x20 || c > 0x7e:
			return nil, errSlow
		}
	}
	return nil, errSlow
}

// plain8 reports whether all eight bytes of w are printable ASCII other
// than '"' and '\\': none below 0x20, above 0x7e, or equal to either
// (the tests of "Bit Twiddling Hacks": hasless, hasmore, haszero; each is
// exact about whether some byte matches, which is all this asks).
func plain8(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	less := (w - 0x20*ones) &^ w
	more := (w + (0x7f-0x7e)*ones) | w
	quote, backslash := w^('"'*ones), w^('\\'*ones)
	zero := (quote-ones)&^quote | (backslash-ones)&^backslash
	return (less|more|zero)&highs == 0
}

// integer appends the next number if it is an integer of at most 15
// digits in its shortest form (no leading zero, not -0).
func (p *fastParser) integer(out []byte) ([]byte, error) {
	start := p.i
	if p.in[p.i] == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.in) && p.in[p.i] >= '0' && p.in[p.i] <= '9' {
		p.i++
	}
	n := p.i - digits
	if n == 0 || n > 15 || (n > 1 && p.in[digits] == '0') || (n == 1 && p.in[digits] == '0' && digits > start) {
		return nil, errSlow
	}
	if p.i < len(p.in) && (p.in[p.i] == '.' || p.in[p.i] == 'e' || p.in[p.i] == 'E') {
		return nil, errSlow
	}
	return append(out, p.in[start:p.i]...), nil
}

func (p *fastParser) array(out []byte, depth int) ([]byte, error) {
	p.i++ // [
	out = append(out, '[')
	p.space()
	if p.i < len(p.in) && p.in[p.i] == ']' {
		p.i++
		return append(out, ']'), nil
	}
	for {
		var err error
		if out, err = p.value(out, depth+1); err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.in) {
			return nil, errSlow
		}
		switch p.in[p.i] {
		case ',':
			p.i++
			out = append(out, ',')
		case ']':
			p.i++
			return append(out, ']'), nil
		default:
			return nil, errSlow
		}
	}
}

// object appends the next object with its members sorted by name (byte
// order of the names without their quotes, which is UTF-16 order for
// ASCII names). Members are written as they come, and reordered only if
// they came out of order: most objects cost no allocation.
func (p *fastParser) object(out []byte, depth int) ([]byte, error) {
	var room [16]member
	members := room[:0]
	start := len(out)
	out = append(out, '{')
	p.i++ // {
	p.space()
	if p.i < len(p.in) && p.in[p.i] == '}' {
		p.i++
		return append(out, '}'), nil
	}
	for {
		p.space()
		if p.i >= len(p.in) || p.in[p.i] != '"' {
			return nil, errSlow
		}
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.in) || p.in[p.i] != ':' {
			return nil, errSlow
		}
		p.i++
		if len(members) > 0 {
			out = append(out, ',')
		}
		m := member{start: len(out), colon: len(out) + len(key)}
		out = append(append(out, key...), ':')
		if out, err = p.value(out, depth+1); err != nil {
			return nil, err
		}
		m.end = len(out)
		members = append(members, m)
		p.space()
		if p.i >= len(p.in) {
			return nil, errSlow
		}
		if p.i++; p.in[p.i-1] == '}' {
			break
		} else if p.in[p.i-1] != ',' {
			return nil, errSlow
		}
	}
	out = append(out, '}')
	for k := 1; k < len(members); k++ {
		if c := compareNames(out, members[k-1], members[k]); c >= 0 {
			return reorder(out, start, members)
		}
	}
	return out, nil
}

// member is an object member written to out: its quoted name at
// [start, colon), then ':' and its value up to end.
type member struct{ start, colon, end int }

// name is m's name in out, without its quotes.
func (m member) name(out []byte) []byte { return out[m.start+1 : m.colon-1] }

func compareNames(out []byte, a, b member) int { return bytes.Compare(a.name(out), b.name(out)) }

// reorder rewrites the object written to out from start with its members
// sorted by name; a duplicate name is for the general path to report. The
// sorted object, as long as the written one, is built in out's spare room
// when there is enough (a verifier's parser reuses out for every line, so
// this allocates nothing once it has grown), else in a copy of its own
// (the sealer's encoder appends a batch of leaves to one buffer, which
// must not grow for it), then moved over the written one.
func reorder(out []byte, start int, members []member) ([]byte, error) {
	end := len(out)
	slices.SortFunc(members, func(a, b member) int { return compareNames(out, a, b) })
	sorted := out[end:end]
	if cap(out)-end < end-start {
		sorted = make([]byte, 0, end-start)
	}
	sorted = append(sorted, '{')
	for k, m := range members {
		if k > 0 {
			if compareNames(out, members[k-1], m) == 0 {
				return nil, errSlow
			}
			sorted = append(sorted, ',')
		}
		sorted = append(sorted, out[m.start:m.end]...)
	}
	copy(out[start:], append(sorted, '}'))
	return out, nil
}
