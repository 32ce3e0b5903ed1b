package benchkit

import (
	"context"
	"encoding/json"
	"log"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
)

// EventWriter writes synthetic events straight into a scratch store's
// events table, a thousand rows a statement: much faster than appending
// through the store, and the log reads the same. Failures are fatal.
type EventWriter struct {
	ctx   context.Context
	db    *sqlx.DB
	rows  []any
	n     int
	count int
}

// NewEventWriter returns a writer into db's events table.
func NewEventWriter(ctx context.Context, db *sqlx.DB) *EventWriter {
	return &EventWriter{ctx: ctx, db: db}
}

// Add queues event e at version of stream, and writes the queue when it
// is full.
func (w *EventWriter) Add(stream string, version int, e domain.Event) {
	data, err := json.Marshal(e)
	if err != nil {
		log.Fatal(err)
	}
	w.rows = append(w.rows, stream, version, domain.NewID(), e.EventType(), string(data), `{"request_id":"bench"}`)
	if w.db.DriverName() != "postgres" {
		w.rows = append(w.rows, time.Now().UTC().Format(time.RFC3339Nano))
	}
	w.n++
	w.count++
	if w.n == 1000 {
		w.Flush()
	}
}

// Count returns how many events were added.
func (w *EventWriter) Count() int { return w.count }

// Flush writes the queued events.
func (w *EventWriter) Flush() {
	if w.n == 0 {
		return
	}
	q, row := `INSERT INTO events (stream, version, id, type, data, metadata) VALUES `, "(?,?,?,?,?::json,?::json)"
	if w.db.DriverName() != "postgres" {
		q, row = `INSERT INTO events (stream, version, id, type, data, metadata, recorded_at) VALUES `, "(?,?,?,?,?,?,?)"
	}
	q += strings.TrimSuffix(strings.Repeat(row+",", w.n), ",")
	w.db.MustExecContext(w.ctx, w.db.Rebind(q), w.rows...)
	w.rows, w.n = w.rows[:0], 0
}
