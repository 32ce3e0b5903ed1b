package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"golang.org/x/mod/sumdb/tlog"
)

// blockSize is how many bytes of lines a worker takes at a time; maxLine
// the longest line read (as long as a bufio.Scanner of the events was
// allowed before).
const (
	blockSize  = 256 << 10
	maxLine    = 16 << 20
	maxReserve = 1 << 22
)

// block is whole lines of the input, numbered from first, and where the
// worker that hashed them puts its result.
type block struct {
	data   []byte
	first  int64
	result chan hashed
}

// hashed is a block's leaf hashes: of the lines whose stream has the
// prefix, in order, then the first line that is not an event (err), if
// any.
type hashed struct {
	hashes []tlog.Hash
	err    error
}

// AddLines adds to r the leaves of the event lines read from in (JSON
// objects, one a line: an events export, or GET /v1/api/events as NDJSON)
// whose stream starts with prefix, in order, until r holds n leaves or in
// ends; lines after those are not read further (a read of in under way
// then may outlast the call: close in, or cancel its request, to end
// it). The lines are decoded and hashed on every core, a block at a time;
// only the tree is built in order, here. progress, if not nil, is called
// after each block's leaves are added (the last block's too).
// Errors: the first line that is not an event (as long as it comes
// before the n-th leaf), with its number; a read error.
func (r *Rebuild) AddLines(in io.Reader, prefix string, n int64, progress func()) error {
	r.reserve(n)
	stop := make(chan struct{})
	order := make(chan *block, 2*runtime.GOMAXPROCS(0)+2)
	work := make(chan *block, cap(order))
	readErr := make(chan error, 1)
	free := make(chan []byte, cap(order)+runtime.GOMAXPROCS(0)) // blocks' buffers, to read into again
	go func() {
		defer close(order)
		defer close(work)
		readErr <- readBlocks(in, stop, order, work, free)
	}()
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lp lineParser
			for {
				select {
				case b, ok := <-work:
					if !ok {
						return
					}
					b.result <- lp.hashBlock(b, []byte(prefix))
					select {
					case free <- b.data[:0]:
					default:
					}
				case <-stop:
					return
				}
			}
		}()
	}
	defer wg.Wait()
	defer close(stop)
	for b := range order {
		res := <-b.result
		for _, h := range res.hashes {
			if r.Size() >= n {
				break
			}
			r.add(h)
		}
		if progress != nil {
			progress()
		}
		if r.Size() >= n {
			return nil
		}
		if res.err != nil {
			return res.err
		}
	}
	return <-readErr
}

// reserve makes room for n leaves (at most maxReserve: n comes from a
// checkpoint, which may claim anything), so the tree's slices do not
// grow, and copy, a leaf at a time. It allocates with make and copies,
// rather than slices.Grow: Grow clears the whole new room (64 MiB for 1M
// leaves, a tenth of a second before the first line is read), where make
// takes fresh pages from the OS as they are, already zero.
func (r *Rebuild) reserve(n int64) {
	n = min(n, maxReserve) - r.Size()
	if n <= 0 || int64(cap(r.hashes)-len(r.hashes)) >= 2*n {
		return
	}
	hashes := make([]tlog.Hash, len(r.hashes), int64(len(r.hashes))+2*n)
	copy(hashes, r.hashes)
	r.hashes = hashes
}

// readBlocks cuts in into blocks of whole lines, for the workers, and
// queues them in order, until in ends or stop closes.
func readBlocks(in io.Reader, stop <-chan struct{}, order, work chan<- *block, free chan []byte) error {
	var carry []byte
	line := int64(1)
	for {
		var buf []byte
		select {
		case buf = <-free:
		default:
		}
		if cap(buf) < max(blockSize, 2*len(carry)) {
			buf = make([]byte, 0, max(blockSize, 2*len(carry)))
		}
		buf = append(buf, carry...)
		var err error
		for len(buf) < cap(buf) && err == nil {
			var m int
			m, err = in.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+m]
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		end := len(buf)
		if err == nil {
			if end = bytes.LastIndexByte(buf, '\n') + 1; end == 0 && len(buf) >= maxLine {
				return fmt.Errorf("line %d: longer than %d bytes", line, maxLine)
			}
		}
		carry = append(carry[:0:0], buf[end:]...) // buf goes to a worker, then back to free
		if end > 0 {
			b := &block{data: buf[:end], first: line, result: make(chan hashed, 1)}
			line += int64(bytes.Count(b.data, []byte{'\n'}))
			select {
			case order <- b:
			case <-stop:
				return nil
			}
			select {
			case work <- b:
			case <-stop:
				return nil
			}
		}
		if err != nil {
			return nil
		}
	}
}

// hashBlock decodes and hashes a block's lines.
func (lp *lineParser) hashBlock(b *block, prefix []byte) hashed {
	res := hashed{hashes: make([]tlog.Hash, 0, bytes.Count(b.data, []byte{'\n'})+1)}
	var leaf []byte
	data, n := b.data, b.first
	for ; len(data) > 0; n++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		l, err := lp.parse(line, leaf[:0])
		if err == nil && l.notAnEvent != "" {
			err = fmt.Errorf("the server: %s", l.notAnEvent)
		}
		if err != nil {
			res.err = lineError(n, err)
			return res
		}
		leaf = l.bytes
		if !bytes.HasPrefix(l.stream, prefix) {
			continue
		}
		res.hashes = append(res.hashes, tlog.RecordHash(leaf))
	}
	return res
}
