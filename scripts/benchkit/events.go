package benchkit

import (
	"context"
	"encoding/json"
	"fmt"
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

// FillReferrals writes n events of synthetic referral streams of
// appspace app through db: each referral is created, every other one
// completes (attributed, "completed" reached, completed), 30 s apart from
// 2026-01-01.
func FillReferrals(ctx context.Context, db *sqlx.DB, app string, n int) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := NewEventWriter(ctx, db)
	for i := 0; w.Count() < n; i++ {
		code := fmt.Sprintf("B%09d", i)
		stream := domain.ReferralStream(app, code)
		at := base.Add(time.Duration(i) * 30 * time.Second)
		exp := at.AddDate(0, 0, 30)
		evs := []domain.Event{&domain.ReferralCreated{ReferralID: domain.NewID(), ReferralCode: code,
			ReferrerID: fmt.Sprintf("user-%d", i%100_000), CreatedAt: at, ExpiresAt: &exp}}
		if i%2 == 0 {
			referee := fmt.Sprintf("friend-%d", i)
			evs = append(evs, &domain.RefereeAttributed{ReferredUserID: referee, AttributedAt: at},
				&domain.MilestoneReached{Milestone: "completed", ReachedAt: at},
				&domain.ReferralCompleted{Milestone: "completed", ReferredUserID: &referee, CompletedAt: at})
		}
		for v, e := range evs {
			if w.Count() == n {
				break
			}
			w.Add(stream, v+1, e)
		}
	}
	w.Flush()
}
