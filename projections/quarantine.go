package projections

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
)

// Quarantined is an event a projection could not apply: the runner
// recorded it and moved on (invariant: one odd event never stops a
// projection for the other referrals and appspaces).
type Quarantined struct {
	Seq        int64  `db:"seq"` // the order quarantined: log order, per projection
	Projection string `db:"projection"`
	Position   int64  `db:"position"`
	EventID    string `db:"event_id"`
	Stream     string `db:"stream"`
	EventType  string `db:"event_type"`
	// Error is the last error applying the event.
	Error string `db:"error"`
	// QuarantinedAt and RetriedAt are unix ms.
	QuarantinedAt int64  `db:"quarantined_at"`
	RetriedAt     *int64 `db:"retried_at"`
}

// QuarantineOf returns the record of e, which projection failed to apply
// with err, at now.
func QuarantineOf(projection string, e domain.RecordedEvent, err error, now time.Time) Quarantined {
	return Quarantined{Projection: projection, Position: int64(e.Position), EventID: e.ID, Stream: e.Stream,
		EventType: e.Type, Error: err.Error(), QuarantinedAt: now.UnixMilli()}
}

// Quarantine records q through tx, the transaction that moves the
// projection past the event; driver is the database's driver name. A
// second record of the same event replaces the first's error.
func Quarantine(ctx context.Context, tx sqlx.ExecerContext, driver string, q Quarantined) error {
	_, err := tx.ExecContext(ctx, sqlx.Rebind(sqlx.BindType(driver), `INSERT INTO projection_quarantine
		(projection, position, event_id, stream, event_type, error, quarantined_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (projection, event_id) DO UPDATE SET error = excluded.error`),
		q.Projection, q.Position, text(q.EventID), text(q.Stream), text(q.EventType), text(q.Error), q.QuarantinedAt)
	if err != nil {
		return fmt.Errorf("projection %s: quarantine event %s: %w", q.Projection, q.EventID, err)
	}
	return nil
}

// text is s as a TEXT column holds it on both stores: valid UTF-8 and no
// NUL (PostgreSQL refuses it, and it is often what made the event odd).
func text(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", `\u0000`)
}

// QuarantinedEvents returns the quarantined events of projection (of every
// projection if it is empty), in the order they were quarantined.
func QuarantinedEvents(ctx context.Context, db *sqlx.DB, projection string) ([]Quarantined, error) {
	var qs []Quarantined
	err := db.SelectContext(ctx, &qs, db.Rebind(`SELECT seq, projection, position,
		event_id, stream, event_type, error, quarantined_at, retried_at FROM projection_quarantine
		WHERE projection = ? OR ? = '' ORDER BY projection, seq`), projection, projection)
	if err != nil {
		return nil, fmt.Errorf("read quarantined events: %w", err)
	}
	return qs, nil
}

// QuarantineCounts returns how many events each projection has quarantined
// (projections with none are absent).
func QuarantineCounts(ctx context.Context, db *sqlx.DB) (map[string]int, error) {
	rows, err := db.QueryxContext(ctx, `SELECT projection, COUNT(*) FROM projection_quarantine GROUP BY projection`)
	if err != nil {
		return nil, fmt.Errorf("count quarantined events: %w", err)
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			return nil, fmt.Errorf("count quarantined events: %w", err)
		}
		counts[name] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count quarantined events: %w", err)
	}
	return counts, nil
}
