package webhooks

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/referral-ledger/referral-ledger/domain"
)

// Topic is the Watermill topic between the forwarder and the dispatcher.
const Topic = "webhook_events"

const (
	consumerGroup = "webhook-dispatcher"
	// messageBatch is how many messages one subscriber transaction reads,
	// and so how many a crash can make it read again (harmless: deliveries
	// are unique per event and webhook).
	messageBatch = 500
	// keepMessages is how long consumed messages stay in the topic's table.
	keepMessages = time.Hour
)

// Message metadata keys.
const (
	metaAppspace   = "appspace_id"
	metaEvent      = "event"
	metaReferral   = "referral_code"
	metaRecordedAt = "recorded_at_ms"
	// metaStream and metaPosition name the log event, for the quarantine.
	metaStream   = "stream"
	metaPosition = "position"
)

// Forwarder is the projection handler that publishes the log's events to
// the topic; run it with a projections.Runner (its checkpoint and the
// published messages commit together).
type Forwarder struct{ w *dispatcher }

// Forwarder returns the adapter's forwarder.
func (w *Webhooks) Forwarder() *Forwarder { return &Forwarder{w: w.disp} }

// Apply publishes, in tx, one message per event that raises a webhook.
func (f *Forwarder) Apply(ctx context.Context, tx *sqlx.Tx, events []domain.RecordedEvent) error {
	r := streamReader{store: f.w.cfg.Events}
	var msgs message.Messages
	for _, e := range events {
		out, ok, err := r.outgoing(ctx, e)
		if err != nil {
			return fmt.Errorf("event %s at %d: %w", e.ID, e.Position, err)
		}
		if !ok {
			continue
		}
		m := message.NewMessage(out.EventID, out.Body)
		m.Metadata.Set(metaAppspace, out.AppspaceID)
		m.Metadata.Set(metaEvent, out.Type)
		m.Metadata.Set(metaReferral, out.ReferralCode)
		m.Metadata.Set(metaRecordedAt, strconv.FormatInt(out.RecordedAt.UnixMilli(), 10))
		m.Metadata.Set(metaStream, e.Stream)
		m.Metadata.Set(metaPosition, strconv.FormatUint(e.Position, 10))
		msgs = append(msgs, m)
	}
	if len(msgs) == 0 {
		return nil
	}
	pub, err := wsql.NewPublisher(tx.Tx, wsql.PublisherConfig{SchemaAdapter: f.w.sql.schema}, watermill.NopLogger{})
	if err != nil {
		return err
	}
	return pub.Publish(Topic, msgs...)
}

// Committed wakes the dispatcher.
func (f *Forwarder) Committed() { wake(f.w.dispatchWake) }

// runDispatcher consumes the topic until ctx ends.
func (w *dispatcher) runDispatcher(ctx context.Context) error {
	logger := shutdownLogger{watermill.NewSlogLogger(w.log.With("component", "webhook-dispatcher"))}
	sub, err := wsql.NewSubscriber(w.db.DB, wsql.SubscriberConfig{
		ConsumerGroup:  consumerGroup,
		SchemaAdapter:  w.sql.schema,
		OffsetsAdapter: w.offsets(),
		ResendInterval: 100 * time.Millisecond,
		BackoffManager: &wakeBackoff{wake: w.dispatchWake, poll: w.cfg.PollInterval, retry: time.Second, log: logger,
			stopping: ctx.Done(), ended: w.batchEnded, retryAfterWake: w.sql.lateVisibility, waiting: w.waiting(ctx)},
	}, logger)
	if err != nil {
		return err
	}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 15 * time.Second}, logger)
	if err != nil {
		return err
	}
	router.AddConsumerHandler(consumerGroup, Topic, sub, w.dispatch)
	go func() {
		<-ctx.Done()
		_ = router.Close() // Run returns its outcome
	}()
	go w.pruneMessages(ctx)
	if err := router.Run(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("webhook dispatcher: %w", err)
	}
	return nil
}

// dispatchOne writes one delivery row per active webhook subscribed to
// the message's event, in the subscriber's transaction (committed with the
// message's ack). Webhooks activated after the event was recorded do not
// receive it.
func (w *dispatcher) dispatchOne(msg *message.Message, tx *sql.Tx, stmt *sql.Stmt) error {
	recordedAt, err := strconv.ParseInt(msg.Metadata.Get(metaRecordedAt), 10, 64)
	if err != nil {
		return fmt.Errorf("message %s: recorded_at: %w", msg.UUID, err)
	}
	event := msg.Metadata.Get(metaEvent)
	now := w.now().UnixMilli()
	res, err := stmt.ExecContext(msg.Context(), msg.UUID, event, msg.Metadata.Get(metaReferral), string(msg.Payload),
		w.maxAttempts(), now, now, now, msg.Metadata.Get(metaAppspace), recordedAt, `"`+event+`"`)
	if err != nil {
		return fmt.Errorf("dispatch event %s: %w", msg.UUID, err)
	}
	if n, err := res.RowsAffected(); err == nil && n > 0 {
		w.met.queued.Add(float64(n))
		w.queued.Store(true)
	}
	return nil
}

// pruneMessages deletes consumed messages older than keepMessages, once a
// minute: the event log is the record, the topic only a conveyor.
func (w *dispatcher) pruneMessages(ctx context.Context) {
	q := w.sql.pruneMessages
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := w.db.ExecContext(ctx, w.db.Rebind(q), keepMessages.Seconds(), consumerGroup); err != nil && ctx.Err() == nil {
			w.log.WarnContext(ctx, "prune webhook messages", "err", err)
		}
	}
}

// batchEnded runs when a subscriber transaction has ended: it wakes the
// worker if the batch wrote deliveries (before the commit, the worker's
// claim would not see them and it would sleep a poll interval).
func (w *dispatcher) batchEnded() {
	if w.queued.Swap(false) {
		wake(w.workWake)
	}
}

// wakeBackoff is the subscriber's backoff: when the topic is empty it
// sleeps until the forwarder in this process commits a batch, or for the
// poll interval at most (another replica's forwarder may be the leader).
// On PostgreSQL a wake-up that finds nothing is followed by a few quick
// looks: it shows a message only once every older transaction has ended.
type wakeBackoff struct {
	wake        <-chan struct{}
	poll, retry time.Duration
	log         watermill.LoggerAdapter
	// stopping closes at shutdown, which can cut the subscriber's query
	// short (PostgreSQL answers 57014, not the context's error).
	stopping <-chan struct{}
	// ended runs after each read of the topic, its transaction ended.
	ended func()
	// retryAfterWake: a wake-up that finds nothing is followed by quick
	// looks (dialect.lateVisibility); soon is how many are left.
	retryAfterWake bool
	soon           int
	// waiting reports whether the topic may hold a message to read; the
	// subscriber reads it only then (see dispatcher.waiting).
	waiting func() bool
}

// Quick looks after a wake-up: up to soonReads, soonWait apart.
const (
	soonReads = 10
	soonWait  = 10 * time.Millisecond
)

// HandleError implements wsql.BackoffManager. It returns 0, and the
// subscriber reads the topic at once, only when a message may be waiting;
// otherwise it waits here (see wait).
func (b *wakeBackoff) HandleError(_ watermill.LoggerAdapter, noMsg bool, err error) time.Duration {
	b.ended()
	if errors.Is(err, sql.ErrTxDone) {
		// The dispatcher abandoned the transaction (see abandon): read
		// the batch again at once.
		b.log.Info("webhook dispatcher: batch abandoned, reading it again", watermill.LogFields{"err": err.Error()})
		return 0
	}
	if err != nil {
		select {
		case <-b.stopping:
			b.log.Info("webhook dispatcher: reading the topic stopped (shutting down)", watermill.LogFields{"err": err.Error()})
		default:
			if conflict(err) { // another replica's subscriber read it at the same time
				b.log.Info("webhook dispatcher: reading the topic conflicted with another replica; reading it again", watermill.LogFields{"err": err.Error()})
				break
			}
			b.log.Error("webhook dispatcher: reading the topic failed", err, nil)
		}
		return b.retry
	}
	if !noMsg && b.waiting() {
		return 0
	}
	for b.wait() && !b.waiting() {
	}
	return 0
}

// wait sleeps for the next look at the topic: soonWait while quick looks
// are left, else until a wake-up or the poll interval. It reports false
// at shutdown.
func (b *wakeBackoff) wait() bool {
	d := b.poll
	if b.soon > 0 {
		b.soon--
		d = soonWait
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-b.stopping:
		return false
	case <-b.wake:
		if b.retryAfterWake {
			b.soon = soonReads
		}
	case <-t.C:
	}
	return true
}

// txState returns the dispatch statement prepared in tx (prepared once per
// subscriber transaction, a batch of messages, not parsed and planned per
// message), whether tx writes each message behind a savepoint, and whether
// tx was abandoned.
func (w *dispatcher) txState(ctx context.Context, tx *sql.Tx) (stmt *sql.Stmt, guarded, dead bool, err error) {
	p := &w.prepared
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead == tx {
		return nil, false, true, nil
	}
	if p.tx == tx {
		return p.stmt, p.guarded, false, nil
	}
	p.pending = nil
	if !p.guardNext {
		// Written together at the ack (flush): nothing to prepare.
		p.tx, p.stmt, p.guarded = tx, nil, false
		return nil, false, false, nil
	}
	stmt, err = tx.PrepareContext(ctx, w.db.Rebind(`INSERT INTO webhook_deliveries (id, appspace_id, webhook_id,
		event_id, event_type, referral_code, body, state, attempt_count, schedule_from, max_attempts, next_attempt_at,
		created_at, updated_at)
		SELECT `+w.sql.newDeliveryID+`, w.appspace_id, w.id, ?, ?, ?, ?, 'pending', 0, 0, ?, ?, ?, ?
		FROM webhooks w
		WHERE w.appspace_id = ? AND w.active AND w.deleted_at IS NULL AND w.active_since <= ? AND `+w.sql.containsEvent+`
		ON CONFLICT (event_id, webhook_id) DO NOTHING`))
	if err != nil {
		return nil, false, false, fmt.Errorf("prepare dispatch: %w", err)
	}
	// The previous statement closed with its transaction.
	p.tx, p.stmt, p.guarded, p.guardNext = tx, stmt, p.guardNext, false
	return stmt, p.guarded, false, nil
}

// conflict reports whether err is a PostgreSQL serialization failure or
// deadlock (40001, 40P01): two replicas' subscribers locking the consumer
// group's offsets row at once. The read is retried; it is no error.
func conflict(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && (pqErr.Code == "40001" || pqErr.Code == "40P01")
}
