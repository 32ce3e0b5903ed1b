package webhooks

import (
	"context"
	"errors"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
)

// PublishRaw publishes a message to the topic as the forwarder would, with
// the metadata given: for messages the forwarder cannot produce.
func (w *Webhooks) PublishRaw(ctx context.Context, uuid string, payload []byte, meta map[string]string) error {
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	pub, err := wsql.NewPublisher(tx, wsql.PublisherConfig{SchemaAdapter: w.sql.schema}, watermill.NopLogger{})
	if err != nil {
		return errors.Join(err, tx.Rollback())
	}
	m := message.NewMessage(uuid, payload)
	for k, v := range meta {
		m.Metadata.Set(k, v)
	}
	if err := pub.Publish(Topic, m); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

// Conflict is conflict, for its test.
var Conflict = conflict

// RecordSameAttemptTwice records two failed outcomes of delivery id's
// attempt prev+1 in one batch, as the worker does when the delivery's
// lease ended and it was attempted again before the first outcome was
// recorded; it returns how many were recorded.
func (w *Webhooks) RecordSameAttemptTwice(ctx context.Context, id, webhookID string, prev int) (int, error) {
	at := time.Now()
	next := at.Add(time.Hour).UnixMilli()
	row := recordRow{id: id, webhook: webhookID, prev: prev, attempt: prev + 1, state: statePending, next: &next,
		at: attemptResult{At: at, StatusCode: 502}}
	tx, err := w.db.BeginTxx(ctx, nil)
	if err != nil {
		return 0, err
	}
	won, err := w.sql.record(ctx, w.core, tx, []recordRow{row, row})
	if err != nil {
		return 0, errors.Join(err, tx.Rollback())
	}
	return len(won), tx.Commit()
}
