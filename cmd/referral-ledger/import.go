package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

// exportedEvent is a line of events export (httpapi.EventJSON), read back.
type exportedEvent struct {
	Stream     string          `json:"stream"`
	Version    uint64          `json:"version"`
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	RecordedAt time.Time       `json:"recorded_at"`
	Data       json.RawMessage `json:"data"`
	Metadata   json.RawMessage `json:"metadata"`
}

// importer is a store that can write events as they were recorded
// elsewhere, recorded time included: every adapter's Import. It is not on
// domain.EventStore, since only moving a log may set a recorded time.
type importer interface {
	Import(ctx context.Context, events []domain.RecordedEvent) error
}

// importBatch is how many events one Import writes (one transaction on
// the SQL stores).
const importBatch = 500

type eventsImportCmd struct {
	File string `arg:"" type:"existingfile" help:"A JSON Lines file that events export wrote."`
}

// maxLine bounds one exported event's line; an event is far smaller.
const maxLine = 16 << 20

// readExport calls f on each event of an export file, in order.
func readExport(path string, f func(line int, e exportedEvent) error) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for n := 1; sc.Scan(); n++ {
		var e exportedEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if err := f(n, e); err != nil {
			return fmt.Errorf("%s:%d: %w", path, n, err)
		}
	}
	return sc.Err()
}

// checkExport reads the whole file once before anything is written: every
// stream's versions must run 1, 2, 3... in the file's order, and event IDs
// must be unique. It returns the number of events.
func checkExport(path string) (int, error) {
	next := map[string]uint64{}
	seen := map[string]bool{}
	total := 0
	err := readExport(path, func(_ int, e exportedEvent) error {
		if e.Stream == "" || e.ID == "" || e.Type == "" || e.RecordedAt.IsZero() {
			return errors.New("an event without a stream, an ID, a type or a recorded time")
		}
		if want := next[e.Stream] + 1; e.Version != want {
			return fmt.Errorf("event %s is version %d of %s, which is at version %d: the file does not continue the stream", e.ID, e.Version, e.Stream, want-1)
		}
		if seen[e.ID] {
			return fmt.Errorf("event ID %s appears twice", e.ID)
		}
		next[e.Stream], seen[e.ID] = e.Version, true
		total++
		return nil
	})
	return total, err
}

// importedPrefix reads the target's log and returns how many of the
// file's first events it already holds, in the same order: a rerun after a
// crash continues there. A log that is not a prefix of the file is refused.
// The global log may show the newest committed events a moment late
// (PostgreSQL holds them back while an older transaction of any session is
// open), so after it the file's next events are looked up in their streams,
// which nothing holds back: a crash leaves a prefix of the file.
func importedPrefix(ctx context.Context, store domain.EventStore, path string) (int, error) {
	var held []domain.RecordedEvent
	opts := domain.ReadAllOptions{Limit: 1000}
	for {
		batch, err := store.ReadAll(ctx, opts)
		if err != nil {
			return 0, err
		}
		if len(batch) == 0 {
			break
		}
		held = append(held, batch...)
		opts.After = batch[len(batch)-1].Position
	}
	n := 0
	err := readExport(path, func(_ int, e exportedEvent) error {
		if n < len(held) {
			if h := held[n]; h.ID != e.ID || h.Stream != e.Stream || h.Version != e.Version {
				return errNotEmpty
			}
			n++
			return nil
		}
		evs, err := store.ReadStream(ctx, e.Stream, domain.Revision(e.Version), 1)
		switch {
		case err != nil:
			return err
		case len(evs) == 0 || evs[0].Version != domain.Revision(e.Version):
			return io.EOF
		case evs[0].ID != e.ID:
			return errNotEmpty
		}
		n++
		return nil
	})
	if errors.Is(err, io.EOF) {
		err = nil
	}
	if err == nil && n < len(held) {
		err = errNotEmpty
	}
	return n, err
}

var errNotEmpty = errors.New("the target store holds events that are not the start of this file: import needs an empty store (or one this file's import stopped in)")

func (c *eventsImportCmd) Run(ctx context.Context, e env) error {
	total, err := checkExport(c.File)
	if err != nil {
		return err
	}
	return e.with(ctx, "", func(m *Main) error {
		store, ok := m.store.(importer)
		if !ok {
			return fmt.Errorf("the %T store cannot import", m.store)
		}
		done, err := importedPrefix(ctx, m.store, c.File)
		if err != nil {
			return err
		}
		p := newProgress(e.stderr, total)
		err = importFile(ctx, store, c.File, done, p)
		p.finish()
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "imported %d events (%d were already there)\n", total-done, done)
		return nil
	})
}

// importFile writes the file's events after the first done, in batches.
// Each batch continues its streams where the store holds them; a batch a
// crashed run wrote is already counted in done.
func importFile(ctx context.Context, store importer, path string, done int, p *progress) error {
	i := 0
	var batch []domain.RecordedEvent
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := store.Import(ctx, batch); err != nil {
			return fmt.Errorf("import events %d-%d: %w", i-len(batch)+1, i, err)
		}
		p.add(len(batch))
		batch = batch[:0]
		return nil
	}
	err := readExport(path, func(_ int, ev exportedEvent) error {
		if i >= done {
			batch = append(batch, domain.RecordedEvent{Stream: ev.Stream, Version: ev.Version, ID: ev.ID, Type: ev.Type,
				Data: nullable(ev.Data), Metadata: nullable(ev.Metadata), RecordedAt: ev.RecordedAt})
		}
		i++
		if len(batch) == importBatch {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// nullable keeps an exported null as no data or metadata, as it was stored.
func nullable(raw json.RawMessage) []byte {
	if string(raw) == "null" {
		return nil
	}
	return raw
}

// progress reports an import's progress on stderr when it is a terminal,
// at most once a second; logs and pipes get only the final line.
type progress struct {
	w          io.Writer
	tty        bool
	total, n   int
	lastReport time.Time
}

func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, tty: isTerminal(w), total: total}
}

// isTerminal reports whether w is a terminal: progress is for people, and
// logs and pipes get none.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (p *progress) add(n int) {
	p.n += n
	if p.tty && time.Since(p.lastReport) > time.Second {
		p.lastReport = time.Now()
		fmt.Fprintf(p.w, "\rimporting: %d/%d events", p.n, p.total)
	}
}

func (p *progress) finish() {
	if p.tty && !p.lastReport.IsZero() {
		fmt.Fprintln(p.w)
	}
}
