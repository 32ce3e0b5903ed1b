package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// leafMembers are a leaf's members in RFC 8785 order (ASCII names: byte
// order), as Leaf.Bytes writes them.
var leafMembers = [...]string{"data", "id", "metadata", "recorded_at", "stream", "type", "version"}

// The members of leafMembers that fastLine reads itself.
const (
	memberStream  = 4
	memberVersion = 6
)

// lineLeaf is the leaf of one event line: its bytes, and its event's
// stream (JSON text without quotes).
type lineLeaf struct {
	bytes      []byte
	stream     []byte
	notAnEvent string // the server's error message, on an error line
}

// lineParser reads event lines: JSON objects with the leaf's seven
// members as GET /v1/api/events shows them, and any others (position,
// leaf_index), which a leaf does not hold. One per goroutine: it keeps
// room for the canonical data and metadata on the way.
type lineParser struct {
	scratch []byte
}

// parse reads an event line and appends its leaf's bytes to buf. It
// decodes the line in one pass when every member is on fast's path, else
// with encoding/json as a Leaf, which decides exactly as the general path
// always did: the two agree wherever the fast one answers (a test holds
// them to it).
func (lp *lineParser) parse(line, buf []byte) (lineLeaf, error) {
	if l, err := lp.fast(line, buf); err == nil {
		return l, nil
	}
	var ev struct {
		Leaf
		Error string `json:"error"` // a stream's error line (it has no id)
	}
	if err := json.Unmarshal(line, &ev); err != nil {
		return lineLeaf{}, err
	}
	if ev.ID == "" && ev.Error != "" {
		return lineLeaf{notAnEvent: ev.Error}, nil
	}
	return lineLeaf{bytes: append(buf, ev.Bytes()...), stream: []byte(ev.Stream)}, nil
}

// fast is parse's one pass over the bytes, for lines whose seven leaf
// members are all present once, with names spelled exactly, strings of
// printable ASCII without escapes, a version of at most 15 digits, and
// data and metadata on canonicalFast's path; other members must be on
// that path too and not fold to a leaf member's name (which encoding/json
// would take for it). Anything else returns errSlow.
func (lp *lineParser) fast(line, buf []byte) (lineLeaf, error) {
	p := fastParser{in: line}
	var vals [len(leafMembers)][]byte
	p.space()
	if p.i >= len(line) || line[p.i] != '{' {
		return lineLeaf{}, errSlow
	}
	p.i++
	lp.scratch = lp.scratch[:0]
	for {
		p.space()
		if p.i >= len(line) || line[p.i] != '"' {
			return lineLeaf{}, errSlow
		}
		key, err := p.str()
		if err != nil {
			return lineLeaf{}, err
		}
		if p.space(); p.i >= len(line) || line[p.i] != ':' {
			return lineLeaf{}, errSlow
		}
		p.i++
		if lp.scratch, err = p.member(key[1:len(key)-1], &vals, lp.scratch); err != nil {
			return lineLeaf{}, err
		}
		if p.space(); p.i >= len(line) {
			return lineLeaf{}, errSlow
		}
		if p.i++; line[p.i-1] == '}' {
			break
		} else if line[p.i-1] != ',' {
			return lineLeaf{}, errSlow
		}
	}
	if p.space(); p.i != len(line) {
		return lineLeaf{}, errSlow
	}
	for _, v := range vals {
		if v == nil {
			return lineLeaf{}, errSlow
		}
	}
	out, start := buf, len(buf)
	for k, name := range leafMembers {
		sep := byte(',')
		if k == 0 {
			sep = '{'
		}
		out = append(append(append(append(out, sep, '"'), name...), '"', ':'), vals[k]...)
	}
	out = append(out, '}')
	stream := vals[memberStream]
	return lineLeaf{bytes: out[start:], stream: stream[1 : len(stream)-1]}, nil
}

// member reads the value of member name into vals (canonical data and
// metadata appended to scratch), or skips it if it is not a leaf's.
func (p *fastParser) member(name []byte, vals *[len(leafMembers)][]byte, scratch []byte) ([]byte, error) {
	k := -1
	for i, m := range leafMembers {
		if len(name) != len(m) {
			continue // name is ASCII (str's), as is m: neither equal nor folding
		}
		if string(name) == m {
			k = i
		} else if bytes.EqualFold(name, []byte(m)) {
			return nil, errSlow // encoding/json would take it for m
		}
	}
	p.space()
	switch {
	case k < 0:
		_, err := p.value(nil, 1)
		return scratch, err
	case vals[k] != nil:
		return nil, errSlow // a duplicate: encoding/json takes the last
	case leafMembers[k] == "data" || leafMembers[k] == "metadata":
		start := len(scratch)
		out, err := p.value(scratch, 0)
		if err != nil {
			return nil, err
		}
		vals[k] = out[start:]
		return out, nil
	case k == memberVersion:
		start := p.i
		for p.i < len(p.in) && p.in[p.i] >= '0' && p.in[p.i] <= '9' {
			p.i++
		}
		if n := p.i - start; n == 0 || n > 15 || (n > 1 && p.in[start] == '0') {
			return nil, errSlow
		}
		vals[k] = p.in[start:p.i]
		return scratch, nil
	}
	if p.i >= len(p.in) || p.in[p.i] != '"' {
		return nil, errSlow
	}
	s, err := p.str()
	vals[k] = s
	return scratch, err
}

// lineError is a line that is not an event, with its number.
func lineError(n int64, err error) error {
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return fmt.Errorf("line %d: not an event: %w", n, err)
	}
	return fmt.Errorf("line %d: %w", n, err)
}
