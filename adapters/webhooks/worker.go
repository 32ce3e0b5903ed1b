package webhooks

import (
	"context"
	"fmt"
	"maps"
	"slices"
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
	// The webhook as it is now, attached after the claim.
	url     string
	secrets []string
	loadErr error
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
	return out, w.attach(ctx, out)
}

// attach gives claimed deliveries their webhook's URL and secrets, read
// once per webhook.
func (w *Webhooks) attach(ctx context.Context, batch []due) error {
	if len(batch) == 0 {
		return nil
	}
	ids := map[string]bool{}
	for _, d := range batch {
		ids[d.WebhookID] = true
	}
	q, args, err := sqlx.In(`SELECT `+webhookColumns+` FROM webhooks WHERE id IN (?)`, slices.Collect(maps.Keys(ids)))
	if err != nil {
		return err
	}
	var rows []webhookRow
	if err := sqlx.SelectContext(ctx, w.db, &rows, w.db.Rebind(q), args...); err != nil {
		return fmt.Errorf("load webhooks of claimed deliveries: %w", err)
	}
	type target struct {
		url     string
		secrets []string
		err     error
	}
	targets := map[string]target{}
	now := w.now()
	for _, r := range rows {
		secrets, err := w.secrets(r, now)
		targets[r.ID] = target{url: r.URL, secrets: secrets, err: err}
	}
	for i := range batch {
		t, ok := targets[batch[i].WebhookID]
		if !ok {
			t.err = fmt.Errorf("webhook %s vanished", batch[i].WebhookID)
		}
		batch[i].url, batch[i].secrets, batch[i].loadErr = t.url, t.secrets, t.err
	}
	return nil
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

// attemptDue makes one attempt of a claimed delivery.
func (w *Webhooks) attemptDue(ctx context.Context, d due) attemptResult {
	if d.loadErr != nil {
		return attemptResult{At: w.now(), Err: "internal error: webhook not readable", internal: d.loadErr}
	}
	return w.deliver.attempt(ctx, d.url, d.secrets, d.EventType, d.EventID, []byte(d.Body))
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
