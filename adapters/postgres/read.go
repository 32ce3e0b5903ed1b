package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/referral-ledger/referral-ledger/domain"
)

const selectEvents = `SELECT position, stream, version, id, type, data, metadata, recorded_at FROM events`

// defaultReadAllLimit is the batch size of ReadAll when the caller sets none.
const defaultReadAllLimit = 1000

// ReadStream returns up to limit events of stream with revision >= from,
// oldest first; limit <= 0 means no limit. A stream with no events returns
// no events and no error.
func (s *Store) ReadStream(ctx context.Context, stream string, from domain.Revision, limit int) ([]domain.RecordedEvent, error) {
	var lim any // NULL: LIMIT NULL is no limit
	if limit > 0 {
		lim = limit
	}
	evs, err := s.queryEvents(ctx, readStreamQuery, stream, int64(from), lim)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", stream, err)
	}
	return evs, nil
}

// ReadLast returns the last event of stream, or domain.ErrStreamNotFound.
func (s *Store) ReadLast(ctx context.Context, stream string) (domain.RecordedEvent, error) {
	evs, err := s.queryEvents(ctx, readLastQuery, stream)
	if err != nil {
		return domain.RecordedEvent{}, fmt.Errorf("read last of %s: %w", stream, err)
	}
	if len(evs) == 0 {
		return domain.RecordedEvent{}, fmt.Errorf("read last of %s: %w", stream, domain.ErrStreamNotFound)
	}
	return evs[0], nil
}

// ReadAll returns events of the global log after opts.After, in commit
// order: by (transaction_id, position), and only events of transactions
// older than the oldest transaction still running in the cluster. An event
// that commits late therefore sorts after every event a reader has already
// been given, so resuming after the last position seen skips nothing.
// Positions are not ascending in this order.
//
// The price is latency: while any transaction of the cluster is open, events
// of younger transactions wait for it. Long transactions stall live readers.
func (s *Store) ReadAll(ctx context.Context, opts domain.ReadAllOptions) ([]domain.RecordedEvent, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = defaultReadAllLimit
	}
	q, args := readAllQuery(opts, limit)
	evs, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read all after %d: %w", opts.After, err)
	}
	if len(evs) == 0 && opts.After > 0 {
		// A cursor that names no event would match nothing forever.
		var known, past bool
		err := s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM events WHERE position = $1),
			$1 > (SELECT COALESCE(max(position), 0) FROM events)`, int64(opts.After)).Scan(&known, &past)
		if err != nil {
			return nil, fmt.Errorf("read all after %d: %w", opts.After, err)
		}
		switch {
		case !known && past:
			return nil, fmt.Errorf("read all after %d: %w", opts.After, domain.ErrPastEnd)
		case !known:
			return nil, fmt.Errorf("read all after %d: %w", opts.After, domain.ErrUnknownPosition)
		}
	}
	return evs, nil
}

// readAllQuery is ReadAll's select. An appspace's prefix ("<appspace>:",
// with no other ':') is matched on the expression the events_appspace index
// keys (migration 00009) so that its events in commit order are a range of
// that index; the planner needs the expression verbatim. Any other prefix
// is tested row by row.
func readAllQuery(opts domain.ReadAllOptions, limit int) (string, []any) {
	var q strings.Builder
	q.WriteString(selectEvents + ` WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())`)
	var args []any
	if opts.After > 0 {
		args = append(args, int64(opts.After))
		fmt.Fprintf(&q, ` AND (transaction_id, position) > (SELECT transaction_id, position FROM events WHERE position = $%d)`, len(args))
	}
	switch p := opts.StreamPrefix; {
	case p == "":
	case strings.IndexByte(p, ':') == len(p)-1:
		args = append(args, p)
		fmt.Fprintf(&q, ` AND substr(stream, 1, strpos(stream, ':')) = $%d`, len(args))
	default:
		args = append(args, p)
		fmt.Fprintf(&q, ` AND starts_with(stream, $%d)`, len(args))
	}
	args = append(args, limit)
	fmt.Fprintf(&q, ` ORDER BY transaction_id, position LIMIT $%d`, len(args))
	return q.String(), args
}

// Prepared reads of one stream: the commands' hot path, planned once per
// connection.
const (
	readStreamQuery = selectEvents + ` WHERE stream = $1 AND version >= $2 ORDER BY version LIMIT $3`
	readLastQuery   = selectEvents + ` WHERE stream = $1 ORDER BY version DESC LIMIT 1`
)

// query runs a select of events.
func (s *Store) query(ctx context.Context, q string, args ...any) ([]domain.RecordedEvent, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return scanEvents(rows)
}

// queryEvents runs a select of events kept prepared.
func (s *Store) queryEvents(ctx context.Context, q string, args ...any) ([]domain.RecordedEvent, error) {
	rows, err := s.queryRows(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return scanEvents(rows)
}

// queryRows runs q prepared (see Store.stmts), or unprepared once stmts
// is full.
func (s *Store) queryRows(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := s.stmts.Get(ctx, q)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return s.db.QueryContext(ctx, q, args...)
	}
	return st.QueryContext(ctx, args...)
}

func scanEvents(rows *sql.Rows) (evs []domain.RecordedEvent, err error) {
	defer closeWith(&err, rows)
	for rows.Next() {
		var e domain.RecordedEvent
		if err := rows.Scan(&e.Position, &e.Stream, &e.Version, &e.ID, &e.Type, &e.Data, &e.Metadata, &e.RecordedAt); err != nil {
			return nil, err
		}
		e.RecordedAt = e.RecordedAt.UTC()
		evs = append(evs, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return evs, nil
}
