package webhooks

import (
	"context"
	"errors"

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
