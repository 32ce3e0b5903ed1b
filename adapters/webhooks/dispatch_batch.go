package webhooks

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/lib/pq"
)

// dispatchArrays writes one delivery per active webhook subscribed to
// each message of a batch, like the per-message statement (see txState),
// with one array per column (PostgreSQL).
func dispatchArrays(ms []queuedMessage, maxAttempts int, now int64) (string, []any) {
	cols := make([][]string, 5)
	recorded := make([]int64, len(ms))
	for i, m := range ms {
		for c, v := range []string{m.eventID, m.event, m.referral, m.body, m.appspace} {
			cols[c] = append(cols[c], v)
		}
		recorded[i] = m.recordedAt
	}
	return `INSERT INTO webhook_deliveries (id, appspace_id, webhook_id, event_id, event_type,
	referral_code, body, state, attempt_count, schedule_from, max_attempts, next_attempt_at, created_at, updated_at)
	SELECT 'dlv_' || replace(gen_random_uuid()::text, '-', ''), w.appspace_id, w.id, m.event_id, m.event_type,
		m.referral_code, m.body, 'pending', 0, 0, $1, $2, $2, $2
	FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[])
		AS m (event_id, event_type, referral_code, body, appspace_id, recorded_at)
	JOIN webhooks w ON w.appspace_id = m.appspace_id AND w.active AND w.deleted_at IS NULL
		AND w.active_since <= m.recorded_at AND strpos(w.events, '"' || m.event_type || '"') > 0
	ON CONFLICT (event_id, webhook_id) DO NOTHING`, []any{maxAttempts, now, pq.Array(cols[0]), pq.Array(cols[1]),
			pq.Array(cols[2]), pq.Array(cols[3]), pq.Array(cols[4]), pq.Array(recorded)}
}

// dispatchValues is dispatchArrays for SQLite: the batch as a VALUES
// list (six parameters a message: 3000 for a batch of 500, well under
// SQLite's limit of 32766). The WHERE clause is what lets SQLite read
// ON CONFLICT as the upsert's, not a join's.
func dispatchValues(ms []queuedMessage, maxAttempts int, now int64) (string, []any) {
	var q strings.Builder
	q.WriteString(`WITH m (event_id, event_type, referral_code, body, appspace_id, recorded_at) AS (VALUES `)
	args := make([]any, 0, 6*len(ms)+2)
	for i, m := range ms {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?)")
		args = append(args, m.eventID, m.event, m.referral, m.body, m.appspace, m.recordedAt)
	}
	q.WriteString(`) INSERT INTO webhook_deliveries (id, appspace_id, webhook_id, event_id, event_type, referral_code,
		body, state, attempt_count, schedule_from, max_attempts, next_attempt_at, created_at, updated_at)
	SELECT 'dlv_' || lower(hex(randomblob(16))), w.appspace_id, w.id, m.event_id, m.event_type, m.referral_code,
		m.body, 'pending', 0, 0, ?, ?, ?, ?
	FROM m, webhooks w WHERE w.appspace_id = m.appspace_id AND w.active AND w.deleted_at IS NULL
		AND w.active_since <= m.recorded_at AND instr(w.events, '"' || m.event_type || '"') > 0
	ON CONFLICT (event_id, webhook_id) DO NOTHING`)
	return q.String(), append(args, maxAttempts, now, now, now)
}

// queuedMessage is a message whose deliveries are written with its batch.
type queuedMessage struct {
	eventID, event, referral, body, appspace string
	recordedAt                               int64
}

// enqueue keeps msg's deliveries to write with the rest of tx's batch.
func (w *dispatcher) enqueue(msg *message.Message, tx *sql.Tx) error {
	recordedAt, err := strconv.ParseInt(msg.Metadata.Get(metaRecordedAt), 10, 64)
	if err != nil {
		return fmt.Errorf("message %s: recorded_at: %w", msg.UUID, err)
	}
	p := &w.prepared
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tx != tx {
		return errors.New("webhook dispatcher: a message of another transaction") // txState ran first
	}
	p.pending = append(p.pending, queuedMessage{eventID: msg.UUID, event: msg.Metadata.Get(metaEvent),
		referral: msg.Metadata.Get(metaReferral), body: string(msg.Payload), appspace: msg.Metadata.Get(metaAppspace),
		recordedAt: recordedAt})
	return nil
}

// offsets is the subscriber's offsets adapter: one that writes the
// batch's deliveries as the subscriber asks for its ack.
func (w *dispatcher) offsets() wsql.OffsetsAdapter {
	return flushingOffsets{OffsetsAdapter: w.sql.offsets, flush: w.flush}
}

// flushingOffsets runs flush when the subscriber builds its ack query:
// after the batch's last message was handled, before the ack is written
// in the same transaction and committed.
type flushingOffsets struct {
	wsql.OffsetsAdapter
	flush func()
}

// AckMessageQuery implements wsql.OffsetsAdapter.
func (o flushingOffsets) AckMessageQuery(topic string, row wsql.Row, consumerGroup string) wsql.Query {
	o.flush()
	return o.OffsetsAdapter.AckMessageQuery(topic, row, consumerGroup)
}

// flush writes the deliveries of the messages queued in the subscriber's
// transaction, in one statement. If it fails it abandons the transaction:
// the ack then fails too, and the batch is read again with a statement
// and a savepoint per message, which quarantines the failing one alone.
func (w *dispatcher) flush() {
	p := &w.prepared
	p.mu.Lock()
	tx, pending := p.tx, p.pending
	p.pending = nil
	p.mu.Unlock()
	if tx == nil || len(pending) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q, args := w.sql.dispatchBatch(pending, w.maxAttempts(), w.now().UnixMilli())
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		w.abandon(ctx, tx, len(pending), fmt.Errorf("dispatch a batch: %w", err))
		return
	}
	if n, err := res.RowsAffected(); err == nil && n > 0 {
		w.met.queued.Add(float64(n))
		w.queued.Store(true)
	}
}
