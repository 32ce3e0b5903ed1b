package webhooks

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
)

// due is a claimed delivery.
type due struct {
	ID           string `db:"id"`
	WebhookID    string `db:"webhook_id"`
	EventID      string `db:"event_id"`
	EventType    string `db:"event_type"`
	Body         string `db:"body"`
	AttemptCount int    `db:"attempt_count"`
	ScheduleFrom int    `db:"schedule_from"`
	MaxAttempts  int    `db:"max_attempts"`
}

// outcome is an attempt of a claimed delivery, to record.
type outcome struct {
	d  due
	at attemptResult
}

// leaseMargin is added to twice the timeout to make a claim's lease: a
// delivery claimed by a replica that died becomes due again when its lease
// ends. A claimed delivery waits at most one timeout for a free sender
// (claims are twice the senders) and takes at most one to attempt.
const leaseMargin = 10 * time.Second

// runWorker delivers due deliveries until ctx ends, then finishes and
// records the attempts in flight.
func (w *Webhooks) runWorker(ctx context.Context) error {
	jobs := make(chan due)
	results := make(chan outcome, 2*w.cfg.Concurrency)
	var senders sync.WaitGroup
	for range w.cfg.Concurrency {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for d := range jobs {
				results <- outcome{d: d, at: w.attemptDue(context.WithoutCancel(ctx), d)}
			}
		}()
	}
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		w.recordLoop(results)
	}()

	err := w.claimLoop(ctx, jobs)
	close(jobs)
	senders.Wait()
	close(results)
	<-recorded
	return err
}

// claimLoop claims due deliveries and hands them to the senders.
func (w *Webhooks) claimLoop(ctx context.Context, jobs chan<- due) error {
	limit := 2 * w.cfg.Concurrency
	for ctx.Err() == nil {
		batch, err := w.claim(ctx, limit)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			w.log.ErrorContext(ctx, "claim due webhook deliveries", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		for _, d := range batch {
			select {
			case jobs <- d:
			case <-ctx.Done():
				// Not attempted: it is due again when its lease ends, or
				// at once for the next process if we release it now.
				w.release(d)
			}
		}
		if len(batch) < limit {
			t := time.NewTimer(w.cfg.PollInterval)
			select {
			case <-ctx.Done():
			case <-w.workWake:
			case <-t.C:
			}
			t.Stop()
		}
	}
	return nil
}

// claim takes up to limit due deliveries of active webhooks and leases
// them: other workers skip them until the lease ends.
func (w *Webhooks) claim(ctx context.Context, limit int) ([]due, error) {
	now := w.now()
	lease := now.Add(2*w.cfg.Timeout + leaseMargin).UnixMilli()
	pick := `SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
		WHERE d.state = 'pending' AND d.next_attempt_at <= ? AND w.active
		ORDER BY d.next_attempt_at LIMIT ?`
	if !w.sqlite {
		pick += ` FOR UPDATE OF d SKIP LOCKED`
	}
	var out []due
	err := sqlx.SelectContext(ctx, w.db, &out, w.db.Rebind(`UPDATE webhook_deliveries SET next_attempt_at = ?, updated_at = ?
		WHERE id IN (`+pick+`)
		RETURNING id, webhook_id, event_id, event_type, body, attempt_count, schedule_from, max_attempts`),
		lease, now.UnixMilli(), now.UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	return out, nil
}

// release makes a claimed, unattempted delivery due now.
func (w *Webhooks) release(d due) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := w.now().UnixMilli()
	if _, err := w.db.ExecContext(ctx, w.db.Rebind(`UPDATE webhook_deliveries SET next_attempt_at = ?, updated_at = ?
		WHERE id = ? AND state = 'pending' AND attempt_count = ?`), now, now, d.ID, d.AttemptCount); err != nil {
		w.log.Warn("release webhook delivery", "delivery", d.ID, "err", err)
	}
}

// attemptDue loads the webhook (its URL and secrets as they are now) and
// makes one attempt.
func (w *Webhooks) attemptDue(ctx context.Context, d due) attemptResult {
	var r webhookRow
	err := sqlx.GetContext(ctx, w.read, &r, w.read.Rebind(`SELECT `+webhookColumns+` FROM webhooks WHERE id = ?`), d.WebhookID)
	if err != nil {
		return attemptResult{At: w.now(), Err: "internal error: webhook not readable", internal: fmt.Errorf("load webhook %s: %w", d.WebhookID, err)}
	}
	secrets, err := w.secrets(r, w.now())
	if err != nil {
		return attemptResult{At: w.now(), Err: "internal error: secret not readable", internal: err}
	}
	return w.deliver.attempt(ctx, r.URL, secrets, d.EventType, d.EventID, []byte(d.Body))
}

// recordLoop writes outcomes in batches, one transaction each.
func (w *Webhooks) recordLoop(results <-chan outcome) {
	const maxBatch = 200
	batch := make([]outcome, 0, maxBatch)
	for o := range results {
		batch = append(batch[:0], o)
	fill:
		for len(batch) < maxBatch {
			select {
			case o, ok := <-results:
				if !ok {
					break fill
				}
				batch = append(batch, o)
			default:
				break fill
			}
		}
		for try := 0; ; try++ {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := w.inTx(ctx, func(tx *sqlx.Tx) error { return w.record(ctx, tx, batch) })
			cancel()
			if err == nil {
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
	}
}

// record saves attempts and moves each delivery to its next state.
func (w *Webhooks) record(ctx context.Context, tx *sqlx.Tx, batch []outcome) error {
	for _, o := range batch {
		d, at := o.d, o.at
		if at.internal != nil {
			w.log.ErrorContext(ctx, "webhook attempt failed inside the ledger", "delivery", d.ID, "err", at.internal)
		}
		attempt := d.AttemptCount + 1
		state, next := w.nextState(d, attempt, at)
		res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE webhook_deliveries SET state = ?, attempt_count = ?,
			next_attempt_at = ?, updated_at = ? WHERE id = ? AND attempt_count = ?`),
			state, attempt, next, at.At.UnixMilli(), d.ID, d.AttemptCount)
		if err != nil {
			return fmt.Errorf("delivery %s: %w", d.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			continue // another worker recorded this attempt number first
		}
		if err := insertAttempt(ctx, tx, d.ID, attempt, at); err != nil {
			return err
		}
		w.met.observe(at, state)
	}
	return nil
}

// nextState is a delivery's state after an attempt: succeeded, pending
// with the next retry time, or failed when the attempts are used up.
func (w *Webhooks) nextState(d due, attempt int, at attemptResult) (string, *int64) {
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
	return statePending, &t
}

func insertAttempt(ctx context.Context, tx *sqlx.Tx, deliveryID string, attempt int, at attemptResult) error {
	var status *int
	if at.StatusCode != 0 {
		status = &at.StatusCode
	}
	_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO webhook_attempts (delivery_id, attempt, attempted_at,
		status_code, response_time_ms, success, error, response_body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		deliveryID, attempt, at.At.UnixMilli(), status, at.Elapsed.Milliseconds(), at.Success,
		nullIfEmpty(at.Err), nullIfEmpty(strings.ToValidUTF8(at.ResponseBody, "\uFFFD")))
	if err != nil {
		return fmt.Errorf("delivery %s attempt %d: %w", deliveryID, attempt, err)
	}
	return nil
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Delivery states.
const (
	statePending   = "pending"
	stateSucceeded = "succeeded"
	stateFailed    = "failed"
)

// sleep waits for d or ctx and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
