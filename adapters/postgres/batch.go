package postgres

import (
	"context"
	"fmt"

	"github.com/lib/pq"

	"github.com/referral-ledger/referral-ledger/domain"
)

// readStreamsQuery reads several streams in one statement, one index seek
// of events_stream_version_key each: $1 the streams, $2 each read's first
// revision (0: the stream's last event only) and $3 its limit (0: none).
// Every row carries the number of its read, from 1.
const readStreamsQuery = `SELECT r.n, e.position, e.stream, e.version, e.id, e.type, e.data, e.metadata, e.recorded_at
	FROM unnest($1::text[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS r(stream, from_v, lim, n)
	CROSS JOIN LATERAL (
		(SELECT * FROM events l WHERE r.from_v = 0 AND l.stream = r.stream ORDER BY l.version DESC LIMIT 1)
		UNION ALL
		(SELECT * FROM events s WHERE r.from_v > 0 AND s.stream = r.stream AND s.version >= r.from_v ORDER BY s.version LIMIT NULLIF(r.lim, 0))
	) e ORDER BY r.n, e.version`

// ReadStreams reads several streams in one round trip; see
// domain.BatchReader. The reads share one snapshot.
func (s *Store) ReadStreams(ctx context.Context, reads []domain.StreamRead) (_ [][]domain.RecordedEvent, err error) {
	streams, from, limits := make([]string, len(reads)), make([]int64, len(reads)), make([]int64, len(reads))
	for i, r := range reads {
		streams[i], from[i], limits[i] = r.Stream, max(int64(r.From), 1), max(int64(r.Limit), 0)
		if r.Last {
			from[i] = 0
		}
	}
	rows, err := s.readStreamsStmt.QueryContext(ctx, pq.Array(streams), pq.Array(from), pq.Array(limits))
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
		out[n-1] = append(out[n-1], e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %d streams: %w", len(reads), err)
	}
	return out, nil
}
