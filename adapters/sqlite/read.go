package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

const selectEvents = `SELECT position, stream, version, id, type, data, metadata, recorded_at FROM events`

// defaultReadAllLimit is the batch size of ReadAll when the caller sets none.
const defaultReadAllLimit = 1000

// ReadStream returns up to limit events of stream with revision >= from,
// oldest first; limit <= 0 means no limit. A stream with no events returns
// no events and no error.
func (s *Store) ReadStream(ctx context.Context, stream string, from domain.Revision, limit int) ([]domain.RecordedEvent, error) {
	if limit <= 0 {
		limit = -1 // no limit in SQLite
	}
	evs, err := s.query(ctx, selectEvents+` WHERE stream = ? AND version >= ? ORDER BY version LIMIT ?`, stream, from, limit)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", stream, err)
	}
	return evs, nil
}

// ReadLast returns the last event of stream, or domain.ErrStreamNotFound.
func (s *Store) ReadLast(ctx context.Context, stream string) (domain.RecordedEvent, error) {
	evs, err := s.query(ctx, selectEvents+` WHERE stream = ? ORDER BY version DESC LIMIT 1`, stream)
	if err != nil {
		return domain.RecordedEvent{}, fmt.Errorf("read last of %s: %w", stream, err)
	}
	if len(evs) == 0 {
		return domain.RecordedEvent{}, fmt.Errorf("read last of %s: %w", stream, domain.ErrStreamNotFound)
	}
	return evs[0], nil
}

// ReadAll returns events of the global log after opts.After in position
// order. SQLite has one writer, so positions are committed in order and a
// reader resuming after a position never skips an event.
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
	return evs, nil
}

// prefixFilter is the WHERE condition selecting streams that start with
// prefix. An appspace's prefix ("<appspace>:", with no other ':') is
// matched on the expression the events_appspace index keys (migration
// 00008), so the read is a range of that index; any other prefix is
// tested row by row.
func prefixFilter(prefix string) (string, []any) {
	switch {
	case prefix == "":
		return `true`, nil
	case strings.IndexByte(prefix, ':') == len(prefix)-1:
		return `substr(stream, 1, instr(stream, ':')) = ?`, []any{prefix}
	default:
		return `substr(stream, 1, length(?)) = ?`, []any{prefix, prefix}
	}
}

// readAllQuery is ReadAll's select.
func readAllQuery(opts domain.ReadAllOptions, limit int) (string, []any) {
	where, args := prefixFilter(opts.StreamPrefix)
	return selectEvents + ` WHERE ` + where + ` AND position > ? ORDER BY position LIMIT ?`, append(args, opts.After, limit)
}

// existsQuery is WaitForEvents' check for an event ReadAll would return.
func existsQuery(opts domain.ReadAllOptions) (string, []any) {
	where, args := prefixFilter(opts.StreamPrefix)
	return `SELECT EXISTS (SELECT 1 FROM events WHERE ` + where + ` AND position > ?)`, append(args, opts.After)
}

// WaitForEvents blocks until the log holds an event that ReadAll with opts
// would return, or ctx ends. Appends of this process wake it at once;
// appends of other processes on the same file are seen by a poll every
// 500ms. Each wake costs one index lookup (events_appspace for an
// appspace's prefix), and an append to another appspace does not return,
// so an idle follower reads no events.
func (s *Store) WaitForEvents(ctx context.Context, opts domain.ReadAllOptions) error {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		changed := s.wake.subscribe() // before looking, so no append is missed in between
		var found bool
		q, args := existsQuery(opts)
		err := s.read.QueryRowContext(ctx, q, args...).Scan(&found)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			return fmt.Errorf("wait for events after %d: %w", opts.After, err)
		case found:
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed: // an append of any appspace: look again
		case <-tick.C:
		}
	}
}

// query runs a select of events on the reader pool.
func (s *Store) query(ctx context.Context, q string, args ...any) (evs []domain.RecordedEvent, err error) {
	stmt, err := s.readStmts.Get(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer closeWith(&err, rows)
	for rows.Next() {
		var e domain.RecordedEvent
		var recordedAt string
		if err := rows.Scan(&e.Position, &e.Stream, &e.Version, &e.ID, &e.Type, &e.Data, &e.Metadata, &recordedAt); err != nil {
			return nil, err
		}
		if e.RecordedAt, err = time.Parse(time.RFC3339Nano, recordedAt); err != nil {
			return nil, fmt.Errorf("event %s: recorded_at: %w", e.ID, err)
		}
		evs = append(evs, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return evs, nil
}
