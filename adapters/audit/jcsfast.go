package audit

import (
	"bytes"
	"errors"
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
	in  []byte
	i   int
	tmp []byte // object's room to reorder members, reused
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
	for _, lit := range [...]string{"true", "false", "null"} {
		if len(p.in)-p.i >= len(lit) && string(p.in[p.i:p.i+len(lit)]) == lit {
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
	for p.i++; p.i < len(p.in) && plain[p.in[p.i]]; p.i++ {
	}
	if p.i < len(p.in) && p.in[p.i] == '"' {
		p.i++
		return p.in[start:p.i], nil
	}
	return nil, errSlow
}

// plain holds the bytes a JSON string holds as they are in RFC 8785 form:
// printable ASCII but the quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c <= 0x7e; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

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

// objMember is an object's member as object wrote it: its name (quoted,
// as in the input) and where "name":value lies in the output.
type objMember struct {
	key        []byte
	start, end int
}

// object appends the next object with its members sorted by name (byte
// order, which is UTF-16 order for ASCII names). It writes the members
// in input order, then, unless they were sorted already, reorders them in
// place through p.tmp: no allocation for objects of up to 16 members.
func (p *fastParser) object(out []byte, depth int) ([]byte, error) {
	p.i++ // {
	p.space()
	if p.i < len(p.in) && p.in[p.i] == '}' {
		p.i++
		return append(out, "{}"...), nil
	}
	var stack [16]objMember
	members, sorted, base := stack[:0], true, len(out)
	out = append(out, '{')
	for {
		p.space()
		if p.i >= len(p.in) || p.in[p.i] != '"' {
			return nil, errSlow
		}
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		if p.space(); p.i >= len(p.in) || p.in[p.i] != ':' {
			return nil, errSlow
		}
		p.i++
		start := len(out)
		if out, err = p.value(append(append(out, key...), ':'), depth+1); err != nil {
			return nil, err
		}
		if n := len(members); n > 0 && bytes.Compare(members[n-1].key, key) >= 0 {
			sorted = false
		}
		members = append(members, objMember{key, start, len(out)})
		out = append(out, ',') // the last becomes the closing brace
		if p.space(); p.i >= len(p.in) {
			return nil, errSlow
		}
		if p.i++; p.in[p.i-1] == '}' {
			break
		} else if p.in[p.i-1] != ',' {
			return nil, errSlow
		}
	}
	if !sorted && !p.reorder(out, base, members) {
		return nil, errSlow // a duplicate name: the general path reports it
	}
	out[len(out)-1] = '}'
	return out, nil
}

// reorder sorts the members object wrote after out[base] by name, in
// place; it reports false if two have the same name.
func (p *fastParser) reorder(out []byte, base int, members []objMember) bool {
	for k := 1; k < len(members); k++ { // insertion sort: a few members
		for j := k; j > 0 && bytes.Compare(members[j-1].key, members[j].key) > 0; j-- {
			members[j-1], members[j] = members[j], members[j-1]
		}
	}
	p.tmp = append(p.tmp[:0], out[base:]...)
	w := base + 1
	for k, m := range members {
		if k > 0 {
			if bytes.Equal(members[k-1].key, m.key) {
				return false
			}
			out[w] = ','
			w++
		}
		w += copy(out[w:], p.tmp[m.start-base:m.end-base])
	}
	return true
}
