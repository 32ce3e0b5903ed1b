package audit

import (
	"bytes"
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
// without escapes.
func (p *fastParser) str() ([]byte, error) {
	start := p.i
	for p.i++; p.i < len(p.in); p.i++ {
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
// order, which is UTF-16 order for ASCII names).
func (p *fastParser) object(out []byte, depth int) ([]byte, error) {
	type member struct{ key, value []byte }
	var members []member
	p.i++ // {
	p.space()
	if p.i < len(p.in) && p.in[p.i] == '}' {
		p.i++
		return append(out, "{}"...), nil
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
		v, err := p.value(nil, depth+1)
		if err != nil {
			return nil, err
		}
		members = append(members, member{key, v})
		p.space()
		if p.i >= len(p.in) {
			return nil, errSlow
		}
		if p.in[p.i] == '}' {
			p.i++
			break
		}
		if p.in[p.i] != ',' {
			return nil, errSlow
		}
		p.i++
	}
	slices.SortFunc(members, func(a, b member) int { return bytes.Compare(a.key, b.key) })
	out = append(out, '{')
	for k, m := range members {
		if k > 0 {
			if bytes.Equal(members[k-1].key, m.key) {
				return nil, errSlow // duplicate: the general path reports it
			}
			out = append(out, ',')
		}
		out = append(append(append(out, m.key...), ':'), m.value...)
	}
	return append(out, '}'), nil
}
