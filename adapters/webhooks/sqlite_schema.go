package webhooks

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v3/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
)

// sqliteSchema is a watermill-sql schema and offsets adapter for SQLite,
// for the embedded profile. The file has one writer, so messages commit in
// offset order and a reader that resumes after the acked offset never
// skips one (PostgreSQL needs transaction ids for that; SQLite does not).
// The tables are created by the sqlite adapter's migrations.
type sqliteSchema struct {
	batchSize int
}

var (
	_ wsql.SchemaAdapter  = sqliteSchema{}
	_ wsql.OffsetsAdapter = sqliteSchema{}
)

func (sqliteSchema) messagesTable(topic string) string { return `"watermill_` + topic + `"` }
func (sqliteSchema) offsetsTable(topic string) string  { return `"watermill_offsets_` + topic + `"` }

// InsertQuery inserts messages in one statement.
func (s sqliteSchema) InsertQuery(topic string, msgs message.Messages) (wsql.Query, error) {
	var b strings.Builder
	b.WriteString(`INSERT INTO ` + s.messagesTable(topic) + ` (uuid, created_at, payload, metadata) VALUES `)
	args := make([]any, 0, 4*len(msgs))
	now := time.Now().UnixMilli()
	for i, m := range msgs {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("(?,?,?,?)")
		meta, err := json.Marshal(m.Metadata)
		if err != nil {
			return wsql.Query{}, fmt.Errorf("message %s: metadata: %w", m.UUID, err)
		}
		args = append(args, m.UUID, now, []byte(m.Payload), string(meta))
	}
	return wsql.Query{Query: b.String(), Args: args}, nil
}

// SelectQuery returns the next batch after the group's acked offset.
func (s sqliteSchema) SelectQuery(topic, group string, _ wsql.OffsetsAdapter) wsql.Query {
	return wsql.Query{Query: `SELECT "offset", uuid, payload, metadata FROM ` + s.messagesTable(topic) + `
		WHERE "offset" > (SELECT offset_acked FROM ` + s.offsetsTable(topic) + ` WHERE consumer_group = ?)
		ORDER BY "offset" LIMIT ` + fmt.Sprint(s.batchSize), Args: []any{group}}
}

// UnmarshalMessage reads a row of SelectQuery.
func (sqliteSchema) UnmarshalMessage(row wsql.Scanner) (wsql.Row, error) {
	var r wsql.Row
	var meta sql.NullString
	if err := row.Scan(&r.Offset, &r.UUID, &r.Payload, &meta); err != nil {
		return wsql.Row{}, fmt.Errorf("scan message row: %w", err)
	}
	r.Msg = message.NewMessage(string(r.UUID), r.Payload)
	if meta.Valid {
		if err := json.Unmarshal([]byte(meta.String), &r.Msg.Metadata); err != nil {
			return wsql.Row{}, fmt.Errorf("message %s: metadata: %w", r.UUID, err)
		}
	}
	return r, nil
}

// SchemaInitializingQueries returns nothing: migrations own the schema.
func (sqliteSchema) SchemaInitializingQueries(string) []wsql.Query { return nil }

// SubscribeIsolationLevel is the default: SQLite transactions are serializable.
func (sqliteSchema) SubscribeIsolationLevel() sql.IsolationLevel { return sql.LevelDefault }

// AckMessageQuery moves the group's offset.
func (s sqliteSchema) AckMessageQuery(topic string, row wsql.Row, group string) wsql.Query {
	return wsql.Query{Query: `UPDATE ` + s.offsetsTable(topic) + ` SET offset_acked = ? WHERE consumer_group = ?`,
		Args: []any{row.Offset, group}}
}

// ConsumedMessageQuery is not needed: one process consumes.
func (sqliteSchema) ConsumedMessageQuery(string, wsql.Row, string, []byte) wsql.Query {
	return wsql.Query{}
}

// NextOffsetQuery is folded into SelectQuery.
func (s sqliteSchema) NextOffsetQuery(topic, group string) wsql.Query {
	return wsql.Query{Query: `SELECT offset_acked FROM ` + s.offsetsTable(topic) + ` WHERE consumer_group = ?`,
		Args: []any{group}}
}

// BeforeSubscribingQueries creates the group's offset row.
func (s sqliteSchema) BeforeSubscribingQueries(topic, group string) []wsql.Query {
	return []wsql.Query{{Query: `INSERT INTO ` + s.offsetsTable(topic) + ` (consumer_group, offset_acked)
		VALUES (?, 0) ON CONFLICT (consumer_group) DO NOTHING`, Args: []any{group}}}
}
