package benchkit

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// Checkpointer is what the PostgreSQL server's checkpointer has done so
// far: checkpoints counted (timed and requested) and buffers written by
// them. A latency benchmark prints the difference across a run: a
// checkpoint writes the buffers earlier runs dirtied and fsyncs them while
// commits wait on the same disk, so a run a checkpoint overlaps is not
// comparable with one it does not.
type Checkpointer struct {
	Checkpoints, Buffers int64
	ok                   bool
}

// ReadCheckpointer reads the server's counters behind db; on SQLite, or
// when the server does not say, the result prints as nothing.
func ReadCheckpointer(ctx context.Context, db *sqlx.DB) Checkpointer {
	var c Checkpointer
	if db.DriverName() != "postgres" {
		return c
	}
	var version int
	if err := db.GetContext(ctx, &version, `SELECT current_setting('server_version_num')::int`); err != nil {
		return c
	}
	q := `SELECT checkpoints_timed + checkpoints_req, buffers_checkpoint FROM pg_stat_bgwriter`
	if version >= 170000 { // the counters moved to their own view
		q = `SELECT num_timed + num_requested, buffers_written FROM pg_stat_checkpointer`
	}
	c.ok = db.QueryRowxContext(ctx, q).Scan(&c.Checkpoints, &c.Buffers) == nil
	return c
}

// Since describes what the checkpointer did between from and c, for a
// run's line ("" when either could not be read).
func (c Checkpointer) Since(from Checkpointer) string {
	if !c.ok || !from.ok {
		return ""
	}
	return fmt.Sprintf("server checkpoints during the run: %d started, %d buffers written", c.Checkpoints-from.Checkpoints, c.Buffers-from.Buffers)
}

// Settle writes out what a bulk fill left behind before a measurement: on
// PostgreSQL a CHECKPOINT (the fill's WAL would otherwise start one during
// the measurement, whose writes and fsyncs the commits then wait behind),
// on SQLite a WAL checkpoint that truncates the file. A log that grew over
// months is in that state; one filled in seconds is not. It reports what
// it did, or why it could not.
func Settle(ctx context.Context, s Store) string {
	q, what := `PRAGMA wal_checkpoint(TRUNCATE)`, "WAL checkpoint"
	if s.Name == "postgres" {
		q, what = `CHECKPOINT`, "CHECKPOINT"
	}
	if _, err := s.Write.ExecContext(ctx, q); err != nil {
		return fmt.Sprintf("%s after the fill failed: %v", what, err)
	}
	return what + " after the fill"
}
