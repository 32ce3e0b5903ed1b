package webhooks

import (
	"context"

	"github.com/jmoiron/sqlx"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
)

// dialect is what differs between the two stores, chosen once in New: the
// SQL text that differs is written out per store, not rewritten.
type dialect struct {
	// name is the driver name projections.Quarantine takes.
	name string
	// containsEvent tests a webhook's JSON event list for a quoted type.
	containsEvent string
	// newDeliveryID makes a delivery id in SQL.
	newDeliveryID string
	// lockHealth locks a webhook row read for its breaker (PostgreSQL: FOR
	// NO KEY UPDATE, which the dispatcher's foreign-key checks do not
	// conflict with; SQLite has one writer).
	lockHealth string
	// pruneMessages deletes consumed topic messages older than a number
	// of seconds, for a consumer group.
	pruneMessages string
	// dispatchBatch is the statement that writes the deliveries of a
	// batch of messages (see dispatch), and its arguments.
	dispatchBatch func(ms []queuedMessage, maxAttempts int, now int64) (string, []any)
	// lateVisibility: a committed message may stay invisible to the
	// subscriber for a while (PostgreSQL shows it once every older
	// transaction has ended), so a wake-up that finds nothing reads again
	// soon. SQLite's offsets are commit order, and each read takes its
	// only writer connection.
	lateVisibility bool
	// messagesWaiting tells whether the topic holds a message the
	// subscriber's read would return (PostgreSQL; see dispatcher.waiting).
	messagesWaiting string
	schema          wsql.SchemaAdapter
	offsets         wsql.OffsetsAdapter
	// claim leases the candidates' shares of due deliveries (claimFor),
	// each with its webhook's URL and secrets as they are now (loadErr set
	// when they could not be read: the deliveries are leased all the same);
	// record saves a batch of attempts (worker.record).
	claim  func(ctx context.Context, w *core, cands []candidate, now, lease int64) ([]due, error)
	record func(ctx context.Context, w *core, tx *sqlx.Tx, rows []recordRow) ([]recordRow, error)
	// writerStmts are prepared once on the writer pool (see workerStmts).
	writerStmts []string
}

var postgresDialect = dialect{
	name:          "postgres",
	containsEvent: "strpos(w.events, ?) > 0",
	newDeliveryID: `'dlv_' || replace(gen_random_uuid()::text, '-', '')`,
	lockHealth:    " FOR NO KEY UPDATE",
	// watermill-sql's created_at is a local timestamp; every message of an
	// older transaction than the last processed one is consumed.
	pruneMessages: `DELETE FROM watermill_webhook_events WHERE created_at < LOCALTIMESTAMP - make_interval(secs => ?) AND
		transaction_id < (SELECT last_processed_transaction_id FROM watermill_offsets_webhook_events
		WHERE consumer_group = ?)`,
	dispatchBatch:  dispatchArrays,
	lateVisibility: true,
	// The subscriber's condition (wsql.DefaultPostgreSQLSchema.SelectQuery).
	messagesWaiting: `SELECT EXISTS (SELECT 1 FROM watermill_webhook_events m, watermill_offsets_webhook_events o
		WHERE o.consumer_group = $1 AND ((m.transaction_id = o.last_processed_transaction_id AND m."offset" > o.offset_acked)
			OR m.transaction_id > o.last_processed_transaction_id)
		AND m.transaction_id < pg_snapshot_xmin(pg_current_snapshot()))`,
	schema:  wsql.DefaultPostgreSQLSchema{SubscribeBatchSize: messageBatch},
	offsets: wsql.DefaultPostgreSQLOffsetsAdapter{},
	claim:   claimLateral,
	record:  recordArrays,
}

var sqliteDialect = dialect{
	name:          "sqlite",
	containsEvent: "instr(w.events, ?) > 0",
	newDeliveryID: `'dlv_' || lower(hex(randomblob(16)))`,
	pruneMessages: `DELETE FROM watermill_webhook_events WHERE created_at < (CAST(unixepoch('subsec') * 1000 AS INTEGER) - ? * 1000)
		AND "offset" <= (SELECT offset_acked FROM watermill_offsets_webhook_events WHERE consumer_group = ?)`,
	schema:        sqliteSchema{batchSize: messageBatch},
	offsets:       sqliteSchema{batchSize: messageBatch},
	dispatchBatch: dispatchValues,
	claim:         claimEach,
	record:        recordEach,
	writerStmts:   []string{claimEachSQL, recordUpdateSQL, insertAttemptSQL},
}

// dialectOf is the dialect of a driver name.
func dialectOf(driver string) dialect {
	if driver == "postgres" {
		return postgresDialect
	}
	return sqliteDialect
}
