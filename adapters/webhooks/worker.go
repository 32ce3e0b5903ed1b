package webhooks

import (
	"context"
	"slices"
	"sync"
	"time"
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
	// The webhook as it is now, attached after the claim (PostgreSQL: by
	// the claim's statement).
	url     string
	secrets []string
	loadErr error
	// probe is set when this attempt decides an open breaker.
	probe bool
	// epoch is the endpoint's failure count when the claim began.
	epoch int
}

// outcome is an attempt of a claimed delivery, to record.
type outcome struct {
	d  due
	at attemptResult
	// freed: the attempt's slot was freed when it ended (a success, not a
	// probe), not when it is recorded.
	freed bool
}

// aheadFactor is how many times its cap of deliveries the worker holds
// of a healthy endpoint (and how many times Concurrency in all): the cap
// in flight, the rest waiting here to follow them. With twice, a claim
// began once half of them were free, when the held half had already
// started: the senders then stood idle while the claim ran, and each
// claim took about Concurrency deliveries. With four times, the claim
// runs while a full round of held deliveries is sent, and takes twice as
// many deliveries per commit.
const aheadFactor = 4

// leaseMargin is added to aheadFactor timeouts to make a claim's lease: a
// delivery claimed by a replica that died becomes due again when its lease
// ends. A claimed delivery waits here at most for aheadFactor-1 requests to
// its endpoint (each endpoint's cap sends its held deliveries in rounds,
// see endpoints.slots) and takes at most one timeout to attempt.
const leaseMargin = 10 * time.Second

// lease is when a claim made at now ends.
func (w *core) lease(now time.Time) int64 {
	return now.Add(aheadFactor*w.cfg.Timeout + leaseMargin).UnixMilli()
}

// runWorker delivers due deliveries until ctx ends, then finishes and
// records the attempts in flight and lets the claimed ones it did not
// start go. At most Concurrency requests are in flight, and at most an
// endpoint's max_in_flight to one endpoint, so a slow endpoint holds only
// its own; the worker holds up to aheadFactor times as many claimed
// deliveries, so the senders do not wait for a claim.
func (w *worker) runWorker(ctx context.Context) error {
	w.prepareWriter(ctx)
	results := make(chan outcome, aheadFactor*w.cfg.Concurrency)
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		w.recordLoop(results)
	}()
	var senders sync.WaitGroup
	var held heldQueue
	var send func(d due)
	send = func(d due) {
		senders.Add(1)
		go func() {
			defer senders.Done()
			o := w.send(context.WithoutCancel(ctx), d)
			w.start(ctx, &held, send) // the next held delivery, now
			results <- o
		}()
	}
	w.claimLoop(ctx, &held, send)
	w.let(held.stop())
	senders.Wait()
	close(results)
	<-recorded
	w.stmts.close()
	return nil
}

// claimLoop claims due deliveries into held until ctx ends. Woken only
// because senders freed, it claims once half of what it may hold is free
// (or the poll interval has passed since its last claim): a claim per
// finished request would cost three statements per delivery. Half: the
// other half, held, keeps every sender busy while the claim waits for the
// writer.
func (w *worker) claimLoop(ctx context.Context, held *heldQueue, send func(due)) {
	limit := aheadFactor * w.cfg.Concurrency
	minBatch := max(1, limit/2)
	var onlyFreed bool
	var lastClaim time.Time
	for ctx.Err() == nil {
		w.start(ctx, held, send)
		wait := w.cfg.PollInterval
		free := limit - w.ends.busy()
		if onlyFreed && free < minBatch && time.Since(lastClaim) < w.cfg.PollInterval {
			wait = w.cfg.PollInterval - time.Since(lastClaim)
		} else if free > 0 {
			lastClaim = time.Now()
			batch, next, err := w.claim(ctx, free)
			if err != nil && ctx.Err() == nil {
				w.log.ErrorContext(ctx, "claim due webhook deliveries", "err", err)
				wait = time.Second
			}
			held.add(batch)
			w.start(ctx, held, send)
			if !next.IsZero() {
				wait = min(wait, max(time.Millisecond, next.Sub(w.now())))
			}
		}
		t := time.NewTimer(wait)
		onlyFreed = false
		select {
		case <-ctx.Done():
		case <-w.workWake:
		case <-w.freed:
			onlyFreed = true
		case <-t.C:
		}
		t.Stop()
	}
}

// send attempts a started delivery. A failure's slot frees when it is
// recorded (recordLoop), so the endpoint's breaker has seen it before the
// next attempt starts, and the endpoint's deliveries held here are let
// go. A success cannot open the breaker: its slot frees now, and a
// healthy endpoint's next request does not wait for the recording.
func (w *worker) send(ctx context.Context, d due) outcome {
	o := outcome{d: d, at: w.attemptDue(ctx, d)}
	if o.freed = o.at.Success && !d.probe; o.freed {
		w.ends.done(d.WebhookID, false)
	} else if !o.at.Success {
		w.ends.fail(d.WebhookID)
	}
	wake(w.freed)
	return o
}

// claim takes up to budget due deliveries, shared fairly between the
// endpoints and appspaces that have some (see share), and counts them as
// held (see startHeld). next is when a rate-limited endpoint gets its next token.
func (w *worker) claim(ctx context.Context, budget int) (batch []due, next time.Time, err error) {
	now := w.now()
	cands, err := w.candidates(ctx, now.UnixMilli())
	if err != nil || len(cands) == 0 {
		return nil, next, err
	}
	for i := range cands {
		c := &cands[i]
		c.MaxInFlight = w.endpointCap(c.MaxInFlight)
		var at time.Time
		ahead := c.State == breakerActive && c.FailureStreak == 0
		c.epoch = w.ends.epoch(c.ID)
		c.slots, at = w.ends.slots(c.ID, c.MaxInFlight, c.RateLimit.Float64, ahead, now)
		if !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
		if c.State == breakerPaused && c.slots > 0 {
			// The cooling ended: one probe decides.
			if c.probe, err = w.takeProbe(ctx, *c, now); err != nil {
				return nil, next, err
			}
			c.slots = 0
			if c.probe {
				c.slots = 1
			}
		}
	}
	w.turn++
	if cands = share(cands, budget, w.turn); len(cands) == 0 {
		return nil, next, nil // every endpoint is at its cap: nothing to claim
	}
	if batch, err = w.claimFor(ctx, cands, now); err != nil && len(batch) == 0 {
		return nil, next, err
	}
	w.met.commits.WithLabelValues("claim").Inc()
	byID := map[string]candidate{}
	for _, c := range cands {
		byID[c.ID] = c
	}
	// Each endpoint's k-th delivery before any endpoint's k+1-th: held
	// deliveries start in this order.
	rank, nth := make(map[string]int, len(batch)), map[string]int{}
	for _, d := range batch {
		rank[d.ID] = nth[d.WebhookID]
		nth[d.WebhookID]++
	}
	slices.SortStableFunc(batch, func(a, b due) int { return rank[a.ID] - rank[b.ID] })
	for i := range batch {
		c := byID[batch[i].WebhookID]
		batch[i].probe, batch[i].epoch = c.probe, c.epoch
		w.ends.hold(c.ID, c.MaxInFlight, 1)
	}
	return batch, next, err
}

// endpointCap is the most requests this replica sends one endpoint at
// once: its max_in_flight, but at most three quarters of the senders. The
// owner may set max_in_flight above Concurrency (up to 64, against 32
// senders by default); a slow endpoint would then take every sender, and
// with them every claimed delivery (aheadFactor times its cap), and the
// other endpoints' deliveries would wait for its requests. A quarter is
// kept for them; half cost a lone fast endpoint a tenth of its deliveries
// per second in scripts/webhookbench.
func (w *worker) endpointCap(maxInFlight int) int {
	return max(1, min(maxInFlight, w.cfg.Concurrency-w.cfg.Concurrency/4))
}

// attemptDue makes one attempt of a claimed delivery.
func (w *worker) attemptDue(ctx context.Context, d due) attemptResult {
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
