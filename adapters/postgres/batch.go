package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/referral-ledger/referral-ledger/domain"
)

// ReadStreams reads several streams in one round trip; see
// domain.BatchReader. The reads share one snapshot.
//
// The statement has one branch per read, each a seek of
// events_stream_version_key with scalar parameters, and is prepared once
// per shape. Scalar parameters keep the plan generic: with arrays (unnest),
// PostgreSQL sees each call's array length, judges a custom plan cheaper
// and plans every call again, which costs more than the round trips saved.
func (s *Store) ReadStreams(ctx context.Context, reads []domain.StreamRead) (_ [][]domain.RecordedEvent, err error) {
	if len(reads) == 0 {
		return nil, nil
	}
	var shape strings.Builder
	var args []any
	for _, r := range reads {
		if r.Last {
			shape.WriteByte('L')
			args = append(args, r.Stream)
			continue
		}
		var limit any // NULL: LIMIT NULL is no limit
		if r.Limit > 0 {
			limit = int64(r.Limit)
		}
		shape.WriteByte('R')
		args = append(args, r.Stream, int64(r.From), limit)
	}
	rows, err := s.queryRows(ctx, batchText(shape.String()), args...)
	if err != nil {
		return nil, fmt.Errorf("read %d streams: %w", len(reads), err)
	}
	defer closeWith(&err, rows)
	out := make([][]domain.RecordedEvent, len(reads))
	for rows.Next() {
		var n int
		var e domain.RecordedEvent
		if err := rows.Scan(&n, &e.Position, &e.Stream, &e.Version, &e.ID, &e.Type, &e.Data, &e.Metadata, &e.RecordedAt); err != nil {
			return nil, fmt.Errorf("read %d streams: %w", len(reads), err)
		}
		e.RecordedAt = e.RecordedAt.UTC()
		out[n] = append(out[n], e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %d streams: %w", len(reads), err)
	}
	return out, nil
}

// batchTexts keeps the text of each shape of batch read (the commands use
// three), built once: ReadStreams runs on every command.
var batchTexts sync.Map

// batchText returns batchQuery(shape), built the first time.
func batchText(shape string) string {
	if q, ok := batchTexts.Load(shape); ok {
		return q.(string)
	}
	q, _ := batchTexts.LoadOrStore(shape, batchQuery(shape))
	return q.(string)
}

// batchQuery is the statement of a shape of batch read: a UNION ALL of one
// branch per read, each tagged with its index.
func batchQuery(shape string) string {
	const cols = `position, stream, version, id, type, data, metadata, recorded_at FROM events`
	var q strings.Builder
	p := 0
	for i, kind := range shape {
		if i > 0 {
			q.WriteString(" UNION ALL ")
		}
		if kind == 'L' {
			fmt.Fprintf(&q, `(SELECT %d, %s WHERE stream = $%d ORDER BY version DESC LIMIT 1)`, i, cols, p+1)
			p++
			continue
		}
		fmt.Fprintf(&q, `(SELECT %d, %s WHERE stream = $%d AND version >= $%d ORDER BY version LIMIT $%d)`, i, cols, p+1, p+2, p+3)
		p += 3
	}
	return q.String()
}
