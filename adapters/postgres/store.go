// Package postgres is the event store on PostgreSQL (13 or later), through
// lib/pq.
//
// The store lives in the first schema of the connection's search_path, so
// several ledgers (or tests) can share one database, a schema each. Appends
// are optimistic: a unique constraint on (stream, version) decides between
// racing writers. The global log is read in commit order, gated by
// transaction ids, so a live reader never skips an event that committed late;
// see ReadAll.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/referral-ledger/referral-ledger/adapters/audit/tilemigrate"
	"github.com/referral-ledger/referral-ledger/internal/sqlstmt"
)

//go:embed migrations/*.sql
var migrations embed.FS

// defaultMaxConns is the pool size when Config.MaxConns is zero.
const defaultMaxConns = 20

// Config says how to reach the database.
type Config struct {
	// URL is a lib/pq connection string, such as
	// postgres://user@host:5432/db?sslmode=disable&search_path=ledger.
	// The store's tables are in the first schema of the search_path.
	URL string
	// MaxConns caps the pool of connections; 0 means 20. The store holds
	// one more connection for LISTEN.
	MaxConns int
}

// Validate reports a Config that Open cannot use.
func (c Config) Validate() error {
	if c.URL == "" {
		return errors.New("postgres: URL is empty")
	}
	if c.MaxConns < 0 {
		return fmt.Errorf("postgres: MaxConns %d is negative", c.MaxConns)
	}
	if _, err := pq.NewConnector(c.URL); err != nil {
		return fmt.Errorf("postgres: URL: %w", err)
	}
	return nil
}

// maxStmts bounds the statements a store keeps prepared; a text beyond
// runs unprepared.
const maxStmts = 64

// Store is the event store on PostgreSQL. It implements domain.EventStore,
// domain.MultiAppender and domain.BatchReader.
type Store struct {
	db *sqlx.DB
	// stmts keeps the commands' statements prepared: the append, the
	// stream reads and a statement per shape of ReadStreams (batch.go; the
	// commands use three shapes).
	stmts     *sqlstmt.Cache
	notify    *notifier // wakes WaitForEvents (notify.go)
	closeOnce sync.Once
	closeErr  error
}

// Open connects, migrates the schema and starts listening for appends.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	connector, err := pq.NewConnector(withBinaryParameters(cfg.URL))
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := sql.OpenDB(connector)
	n := cfg.MaxConns
	if n == 0 {
		n = defaultMaxConns
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	schema, err := currentSchema(ctx, db)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	if err := Migrate(ctx, db); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	s := &Store{db: sqlx.NewDb(db, "postgres"), stmts: sqlstmt.New(db, maxStmts)}
	if err := s.stmts.Prepare(ctx, appendQuery, readStreamQuery, readLastQuery); err != nil {
		return nil, errors.Join(fmt.Errorf("postgres: prepare: %w", err), s.stmts.Close(), db.Close())
	}
	channel := fmt.Sprintf("referral_ledger_events_%016x", hash("events", schema))
	if s.notify, err = listen(ctx, s.db, cfg.URL, channel); err != nil {
		return nil, errors.Join(err, s.stmts.Close(), db.Close())
	}
	return s, nil
}

// DB returns the connection pool, for adapters that keep their own tables
// in the same schema.
func (s *Store) DB() *sqlx.DB { return s.db }

// Close stops listening and closes the pool. Later calls return the
// first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = errors.Join(s.notify.close(), s.stmts.Close(), s.db.Close())
	})
	return s.closeErr
}

// Migrate applies every migration in the package's migrations folder that
// the schema of db's search_path has not applied yet. Replicas may call it
// at the same time: a session advisory lock, one per schema, lets one
// migrate while the others wait.
func Migrate(ctx context.Context, db *sql.DB) error {
	schema, err := currentSchema(ctx, db)
	if err != nil {
		return err
	}
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("postgres migrations: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(int64(hash("migrate", schema))),
		lock.WithLockTimeout(1, 300), // try every second for five minutes
	)
	if err != nil {
		return fmt.Errorf("postgres migration lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
		goose.WithGoMigrations(tilesMigration()),
		goose.WithLogger(goose.NopLogger()),
	)
	if err != nil {
		return fmt.Errorf("postgres migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgres migrate schema %s: %w", schema, err)
	}
	return nil
}

// withBinaryParameters asks lib/pq to send parameters in one round trip
// (binary_parameters=yes), unless the URL says otherwise: without it every
// parameterised query costs an extra round trip to describe the statement.
func withBinaryParameters(dsn string) string {
	if strings.Contains(dsn, "binary_parameters") {
		return dsn
	}
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("binary_parameters", "yes")
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " binary_parameters=yes"
}

// currentSchema returns the schema that unqualified table names create in.
func currentSchema(ctx context.Context, db *sql.DB) (string, error) {
	var schema sql.NullString
	if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return "", fmt.Errorf("postgres: connect: %w", err)
	}
	if !schema.Valid {
		return "", errors.New("postgres: no schema of the search_path exists")
	}
	return schema.String, nil
}

// hash derives a stable 64-bit name for a schema's lock or channel.
func hash(kind, schema string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("referral-ledger " + kind + " " + schema)) // never fails
	return h.Sum64()
}

// tilesMigration is migration 00015, in Go: audit_hashes becomes
// audit_tiles (see tilemigrate.Up).
func tilesMigration() *goose.Migration {
	return goose.NewGoMigration(15,
		&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error { return tilemigrate.Up(ctx, tx, "postgres") }},
		&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error { return tilemigrate.Down(ctx, tx, "postgres") }})
}
