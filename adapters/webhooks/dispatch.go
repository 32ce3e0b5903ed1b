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

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

// DispatcherName names the dispatcher's quarantined messages among the
// projections' quarantined events.
const DispatcherName = "webhooks-dispatcher"

// dispatch is the dispatcher's Watermill handler. A message that fails for
// a reason that is not transient is quarantined and acknowledged: the
// subscriber would otherwise resend it forever, in a transaction that also
// holds every message after it. A transient failure nacks it (resent; the
// subscriber's ack deadline starts a new transaction if this one died). A
// message the subscriber stops waiting for, at shutdown, is nacked
// without an error: the router logs every handler error at ERROR.
//
// The batch's deliveries are written in one statement when the
// subscriber acks it (see flush): on PostgreSQL a statement costs a round
// trip, on SQLite the one writer's time. A failed statement aborts the
// subscriber's transaction with the batch it holds (PostgreSQL), so if
// the batch's fails, the dispatcher gives the transaction up (see
// abandon) and runs the next one, the same batch read again, with a
// statement and a savepoint per message, so that the failing message is
// quarantined alone.
func (w *dispatcher) dispatch(msg *message.Message) error {
	tx, ok := wsql.TxFromContext(msg.Context())
	if !ok {
		return errors.New("webhook dispatcher: the message carries no transaction")
	}
	stmt, guarded, dead, err := w.txState(msg.Context(), tx)
	switch {
	case dead:
		return nil // nothing of this transaction commits: the batch is read again
	case err == nil && guarded:
		err = w.savepoint(msg.Context(), tx, func() error { return w.dispatchOne(msg, tx, stmt) })
	case err == nil:
		err = w.enqueue(msg, tx)
	}
	switch {
	case err == nil:
		return nil
	case msg.Context().Err() != nil:
		msg.Nack()
		return nil
	case projections.Transient(err):
		return err
	}
	pos, _ := strconv.ParseUint(msg.Metadata.Get(metaPosition), 10, 64)
	e := domain.RecordedEvent{Position: pos, ID: msg.UUID, Stream: msg.Metadata.Get(metaStream), Type: msg.Metadata.Get(metaEvent)}
	q := projections.QuarantineOf(DispatcherName, e, err, w.now())
	if qErr := projections.Quarantine(msg.Context(), tx, w.sql.name, q); qErr != nil {
		return errors.Join(err, qErr)
	}
	w.log.ErrorContext(msg.Context(), "webhook dispatcher quarantined a message it cannot handle",
		"event_id", msg.UUID, "stream", q.Stream, "position", pos, "err", err)
	return nil
}

// abandon gives up a subscriber transaction that a failed statement
// aborted: it rolls it back, so the messages after the failed one are
// acknowledged into a transaction that commits nothing (the subscriber's
// own ack then fails with sql.ErrTxDone and it reads the batch again),
// and has the next transaction written behind savepoints.
func (w *dispatcher) abandon(ctx context.Context, tx *sql.Tx, msgs int, err error) {
	w.prepared.mu.Lock()
	w.prepared.dead, w.prepared.guardNext = tx, true
	w.prepared.mu.Unlock()
	w.log.InfoContext(ctx, "webhook dispatcher: writing a batch failed; reading it again with a savepoint per message",
		"messages", msgs, "err", err)
	if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
		w.log.WarnContext(ctx, "webhook dispatcher: roll back the failed batch", "err", rbErr)
	}
}

// savepoint runs f behind a savepoint: on PostgreSQL a failed statement
// then undoes only itself.
func (w *dispatcher) savepoint(ctx context.Context, tx *sql.Tx, f func() error) error {
	if _, err := tx.ExecContext(ctx, `SAVEPOINT webhook_dispatch`); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	if err := f(); err != nil {
		for _, q := range []string{`ROLLBACK TO SAVEPOINT webhook_dispatch`, `RELEASE SAVEPOINT webhook_dispatch`} {
			if _, rbErr := tx.ExecContext(ctx, q); rbErr != nil {
				return errors.Join(err, fmt.Errorf("%s: %w", q, rbErr))
			}
		}
		return err
	}
	if _, err := tx.ExecContext(ctx, `RELEASE SAVEPOINT webhook_dispatch`); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// shutdownLogger is the dispatcher's Watermill logger: an error that is
// only the cancellation of a shutdown (the subscriber's query or commit
// cut short) is logged at INFO, so that a clean shutdown logs no ERROR.
type shutdownLogger struct{ watermill.LoggerAdapter }

// Error implements watermill.LoggerAdapter.
func (l shutdownLogger) Error(msg string, err error, fields watermill.LogFields) {
	if errors.Is(err, context.Canceled) {
		l.LoggerAdapter.Info(msg+" (shutting down)", fields.Add(watermill.LogFields{"err": err.Error()}))
		return
	}
	l.LoggerAdapter.Error(msg, err, fields)
}

// With implements watermill.LoggerAdapter.
func (l shutdownLogger) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return shutdownLogger{l.LoggerAdapter.With(fields)}
}

// waiting returns the subscriber backoff's look at the topic. On
// PostgreSQL the subscriber's read locks the consumer group's offsets row
// (FOR UPDATE), which gives its transaction an id and its commit a WAL
// flush, and holds back every later transaction's visibility (which waits
// for all older ones) until it ends: so the dispatcher first looks, with
// a plain read that does neither, whether a message is there to read. A
// look that fails says yes: the subscriber's read then reports the error.
// SQLite's reads write nothing: it always says yes.
func (w *dispatcher) waiting(ctx context.Context) func() bool {
	if w.sql.messagesWaiting == "" {
		return func() bool { return true }
	}
	return func() bool {
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		var yes bool
		if err := w.db.QueryRowContext(qctx, w.sql.messagesWaiting, consumerGroup).Scan(&yes); err != nil {
			return true
		}
		return yes
	}
}
