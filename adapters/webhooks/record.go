package webhooks

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// recordLinger is how long a batch of successes waits for more outcomes.
const recordLinger = 20 * time.Millisecond

// gather adds to batch the outcomes waiting, up to max. Successes have
// freed their senders already: a batch of only them waits up to
// recordLinger for more, so that recording takes the writer less often
// (SQLite has one, which the claims need too). An outcome that holds a
// sender (a failure, a probe) is recorded at once.
func gather(results <-chan outcome, batch []outcome, max int) []outcome {
	urgent := !batch[0].freed
	linger := time.NewTimer(recordLinger)
	defer linger.Stop()
	for len(batch) < max {
		var o outcome
		var ok bool
		if urgent {
			select {
			case o, ok = <-results:
			default:
				return batch
			}
		} else {
			select {
			case o, ok = <-results:
			case <-linger.C:
				return batch
			}
		}
		if !ok {
			return batch
		}
		batch = append(batch, o)
		urgent = urgent || !o.freed
	}
	return batch
}

// recordLoop writes outcomes in batches, one transaction each.
func (w *worker) recordLoop(results <-chan outcome) {
	const maxBatch = 200
	batch := make([]outcome, 0, maxBatch)
	for o := range results {
		batch = gather(results, append(batch[:0], o), maxBatch)
		for try := 0; ; try++ {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := w.inTx(ctx, func(tx *sqlx.Tx) error { return w.record(ctx, tx, batch) })
			cancel()
			if err == nil {
				w.met.commits.WithLabelValues("record").Inc()
				break
			}
			// The attempts happened; if they cannot be recorded the leases
			// end and the deliveries are attempted again (at least once).
			w.log.Error("record webhook attempts", "err", err, "deliveries", len(batch), "try", try)
			if try == 4 {
				break
			}
			time.Sleep(time.Duration(try+1) * 200 * time.Millisecond)
		}
		for _, o := range batch {
			if !o.freed {
				w.ends.done(o.d.WebhookID, !o.at.Success)
			}
		}
		wake(w.freed)
	}
}

// record saves attempts and moves each delivery to its next state. A
// delivery whose attempt number another worker recorded first (its lease
// ran out while this attempt was slow) keeps that record.
func (w *worker) record(ctx context.Context, tx *sqlx.Tx, batch []outcome) error {
	rows := make([]recordRow, len(batch))
	for i, o := range batch {
		if o.at.internal != nil {
			w.log.ErrorContext(ctx, "webhook attempt failed inside the ledger", "delivery", o.d.ID, "err", o.at.internal)
		}
		attempt := o.d.AttemptCount + 1
		state, next := w.nextState(o.d, attempt, o.at)
		rows[i] = recordRow{id: o.d.ID, webhook: o.d.WebhookID, probe: o.d.probe, prev: o.d.AttemptCount, attempt: attempt,
			state: state, next: next, at: o.at}
	}
	won, err := w.sql.record(ctx, w.core, tx, rows)
	if err != nil {
		return err
	}
	for _, r := range won {
		w.met.observe(r.at, r.state)
	}
	return w.updateHealth(ctx, tx, won)
}

type recordRow struct {
	id, webhook   string
	probe         bool
	prev, attempt int
	state         string
	next          *int64
	at            attemptResult
}

// recordEach records row by row (SQLite: statements cost no round trip),
// with two statements prepared once (see workerStmts).
func recordEach(ctx context.Context, w *core, tx *sqlx.Tx, rows []recordRow) ([]recordRow, error) {
	update, err := w.inTxStmt(ctx, tx, recordUpdateSQL)
	if err != nil {
		return nil, fmt.Errorf("prepare recording: %w", err)
	}
	insert, err := w.inTxStmt(ctx, tx, insertAttemptSQL)
	if err != nil {
		return nil, fmt.Errorf("prepare recording: %w", err)
	}
	var won []recordRow
	for _, r := range rows {
		res, err := update.ExecContext(ctx, r.state, r.attempt, r.next, r.at.At.UnixMilli(), r.id, r.prev)
		if err != nil {
			return won, fmt.Errorf("delivery %s: %w", r.id, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			continue
		}
		if _, err := insert.ExecContext(ctx, attemptArgs(r.id, r.attempt, r.at)...); err != nil {
			return won, fmt.Errorf("delivery %s attempt %d: %w", r.id, r.attempt, err)
		}
		won = append(won, r)
	}
	return won, nil
}

// attemptKey names a delivery's attempt: its id and the attempt count the
// attempt was claimed at.
type attemptKey struct {
	ID   string `db:"id"`
	Prev int    `db:"prev"`
}

// firstPerAttempt is rows without the later outcomes of an attempt that
// has an earlier one in rows (in place, order kept).
func firstPerAttempt(rows []recordRow) []recordRow {
	seen := make(map[attemptKey]bool, len(rows))
	out := rows[:0]
	for _, r := range rows {
		if k := (attemptKey{r.id, r.prev}); !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	return out
}

const recordUpdateSQL = `UPDATE webhook_deliveries SET state = ?, attempt_count = ?,
	next_attempt_at = ?, updated_at = ? WHERE id = ? AND attempt_count = ?`

// recordArrays records a batch in two statements, one array per column
// (PostgreSQL: one round trip and one plan instead of two per delivery).
//
// A batch may hold two outcomes of one delivery: its lease ended (the
// clock jumped, or recording stalled) while its outcome waited here, and
// it was claimed and attempted again with the same attempt number. Row by
// row, the second finds the attempt recorded and loses, as when another
// replica recorded it first. In one UPDATE ... FROM both rows matched the
// delivery, both counted as won, and the second insert of the attempt
// failed the whole batch, every delivery's outcome and breaker with it,
// each of five tries. Now the first outcome of an attempt number is
// sent, and a row counts as won only if its own attempt number was the
// one the update found.
func recordArrays(ctx context.Context, _ *core, tx *sqlx.Tx, rows []recordRow) ([]recordRow, error) {
	rows = firstPerAttempt(rows)
	n := len(rows)
	ids, states := make([]string, n), make([]string, n)
	prevs, attempts := make([]int64, n), make([]int64, n)
	nexts, ats := make([]sql.NullInt64, n), make([]int64, n)
	for i, r := range rows {
		ids[i], states[i], prevs[i], attempts[i], ats[i] = r.id, r.state, int64(r.prev), int64(r.attempt), r.at.At.UnixMilli()
		if r.next != nil {
			nexts[i] = sql.NullInt64{Int64: *r.next, Valid: true}
		}
	}
	var updated []attemptKey
	err := tx.SelectContext(ctx, &updated, `UPDATE webhook_deliveries d SET state = u.state, attempt_count = u.attempt,
		next_attempt_at = u.next, updated_at = u.at
		FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::bigint[], $6::bigint[]) AS u (id, state, prev, attempt, next, at)
		WHERE d.id = u.id AND d.attempt_count = u.prev RETURNING d.id, u.prev`,
		pq.Array(ids), pq.Array(states), pq.Array(prevs), pq.Array(attempts), pq.GenericArray{A: nexts}, pq.Array(ats))
	if err != nil {
		return nil, fmt.Errorf("record %d attempts: %w", n, err)
	}
	done := make(map[attemptKey]bool, len(updated))
	for _, k := range updated {
		done[k] = true
	}
	var won []recordRow
	var aIDs, errs, bodies []sql.NullString
	var aNums, aAts, aMS []int64
	var codes []sql.NullInt64
	var oks []bool
	for _, r := range rows {
		if !done[attemptKey{r.id, r.prev}] {
			continue
		}
		won = append(won, r)
		aIDs = append(aIDs, sql.NullString{String: r.id, Valid: true})
		aNums, aAts, aMS = append(aNums, int64(r.attempt)), append(aAts, r.at.At.UnixMilli()), append(aMS, r.at.Elapsed.Milliseconds())
		codes = append(codes, sql.NullInt64{Int64: int64(r.at.StatusCode), Valid: r.at.StatusCode != 0})
		oks = append(oks, r.at.Success)
		errs = append(errs, sql.NullString{String: r.at.Err, Valid: r.at.Err != ""})
		body := logText(r.at.ResponseBody)
		bodies = append(bodies, sql.NullString{String: body, Valid: body != ""})
	}
	if len(won) == 0 {
		return nil, nil
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO webhook_attempts (delivery_id, attempt, attempted_at, status_code,
		response_time_ms, success, error, response_body)
		SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::int[], $5::bigint[], $6::boolean[], $7::text[], $8::text[])`,
		pq.GenericArray{A: aIDs}, pq.Array(aNums), pq.Array(aAts), pq.GenericArray{A: codes}, pq.Array(aMS),
		pq.Array(oks), pq.GenericArray{A: errs}, pq.GenericArray{A: bodies})
	if err != nil {
		return nil, fmt.Errorf("record %d attempts: %w", len(won), err)
	}
	return won, nil
}

// nextState is a delivery's state after an attempt: succeeded, pending
// with the next retry time, or failed when the attempts are used up.
func (w *core) nextState(d due, attempt int, at attemptResult) (string, *int64) {
	if at.Success {
		return stateSucceeded, nil
	}
	if attempt >= d.MaxAttempts {
		return stateFailed, nil
	}
	i := min(max(attempt-d.ScheduleFrom-1, 0), len(w.cfg.RetrySchedule)-1)
	if i < 0 { // no retry schedule, but attempts left (a replay): retry at once
		t := at.At.UnixMilli()
		return statePending, &t
	}
	t := at.At.Add(w.cfg.RetrySchedule[i]).UnixMilli()
	if at.RetryAfter > 0 { // the receiver said when (429, 503)
		t = at.At.Add(at.RetryAfter).UnixMilli()
	}
	return statePending, &t
}

const insertAttemptSQL = `INSERT INTO webhook_attempts (delivery_id, attempt, attempted_at,
	status_code, response_time_ms, success, error, response_body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

func insertAttempt(ctx context.Context, tx *sqlx.Tx, deliveryID string, attempt int, at attemptResult) error {
	if _, err := tx.ExecContext(ctx, tx.Rebind(insertAttemptSQL), attemptArgs(deliveryID, attempt, at)...); err != nil {
		return fmt.Errorf("delivery %s attempt %d: %w", deliveryID, attempt, err)
	}
	return nil
}

// attemptArgs are insertAttemptSQL's arguments.
func attemptArgs(deliveryID string, attempt int, at attemptResult) []any {
	var status *int
	if at.StatusCode != 0 {
		status = &at.StatusCode
	}
	return []any{deliveryID, attempt, at.At.UnixMilli(), status, at.Elapsed.Milliseconds(), at.Success,
		nullIfEmpty(at.Err), nullIfEmpty(logText(at.ResponseBody))}
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// logText is a response body or an error text as the log can hold it:
// valid UTF-8 without NUL bytes (a receiver may answer anything, and
// PostgreSQL refuses NUL in text).
func logText(s string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}
