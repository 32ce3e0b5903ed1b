// Package sqlite is the embedded profile's storage: the event store in one
// SQLite file (pure Go, modernc.org/sqlite), which other adapters share for
// their own tables.
//
// A Store opens the file twice: one writer connection, on which every write
// transaction of the process queues (so writers wait for each other in Go
// instead of failing with SQLITE_BUSY), and a pool of read-only connections.
// The file is in WAL mode, so readers never block the writer or each other,
// with synchronous=FULL, so an acknowledged append survives a power loss.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"

	"github.com/referral-ledger/referral-ledger/adapters/audit/tilemigrate"
	"github.com/referral-ledger/referral-ledger/internal/sqlstmt"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// pollInterval is how often WaitForEvents looks for appends made by other
// processes on the same file; appends of this process wake it at once.
const pollInterval = 500 * time.Millisecond

// busyTimeout is how long a connection waits for another process's lock.
const busyTimeout = 10 * time.Second

// Config says where the database file is.
type Config struct {
	// Path is the database file, created if missing.
	Path string
}

// Validate reports a Config that Open cannot use.
func (c Config) Validate() error {
	switch {
	case c.Path == "":
		return errors.New("sqlite: path is empty")
	case strings.ContainsAny(c.Path, "?#"):
		return fmt.Errorf("sqlite: path %q contains '?' or '#'", c.Path)
	case c.Path == ":memory:" || strings.HasPrefix(c.Path, "file:"):
		return fmt.Errorf("sqlite: path %q must name a file (the writer and the readers share it)", c.Path)
	}
	return nil
}

// Store is the event store on a SQLite file. It implements
// domain.EventStore and domain.MultiAppender.
type Store struct {
	write *sqlx.DB
	read  *sqlx.DB
	// writeStmts and readStmts are the append's and the reads'
	// statements, kept prepared on each pool. The writer pool's one
	// connection is the batch's while it runs: the append's statements
	// are prepared at Open, and any other text in the transaction that
	// first runs it, then on the pool once that batch has ended.
	writeStmts, readStmts *sqlstmt.Cache

	wake *wakeup // wakes WaitForEvents after each commit

	requests    chan *appendRequest // to the batcher: see batch.go
	stop        chan struct{}
	batcherDone chan struct{}
	closeOnce   sync.Once
	closeErr    error
}

// Open opens (creating if needed) and migrates the database file.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := makePrivate(cfg.Path); err != nil {
		return nil, err
	}
	params := url.Values{}
	params.Set("_busy_timeout", fmt.Sprint(busyTimeout.Milliseconds()))
	params.Set("_foreign_keys", "1")
	params.Set("_synchronous", "FULL")
	writeParams := url.Values{"_txlock": {"immediate"}, "_journal_mode": {"WAL"}}
	readParams := url.Values{"_query_only": {"1"}}
	for k, v := range params {
		writeParams[k], readParams[k] = v, v
	}

	write, err := sql.Open("sqlite", cfg.Path+"?"+writeParams.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite writer %s: %w", cfg.Path, err)
	}
	// One connection: writers of this process queue for it in Go.
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxIdleTime(0)
	write.SetConnMaxLifetime(0)
	if err := Migrate(ctx, write); err != nil {
		return nil, errors.Join(err, write.Close())
	}

	read, err := sql.Open("sqlite", cfg.Path+"?"+readParams.Encode())
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open sqlite readers %s: %w", cfg.Path, err), write.Close())
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	if err := read.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("open sqlite readers %s: %w", cfg.Path, err), read.Close(), write.Close())
	}
	s := &Store{
		write:       sqlx.NewDb(write, "sqlite3"),
		read:        sqlx.NewDb(read, "sqlite3"),
		writeStmts:  sqlstmt.Deferred(write, 0),
		readStmts:   sqlstmt.New(read, 0),
		wake:        &wakeup{changed: make(chan struct{})},
		requests:    make(chan *appendRequest),
		stop:        make(chan struct{}),
		batcherDone: make(chan struct{}),
	}
	if err := s.writeStmts.Prepare(ctx, appendStatements()...); err != nil {
		return nil, errors.Join(fmt.Errorf("prepare the append's statements: %w", err), s.writeStmts.Close(), read.Close(), write.Close())
	}
	go s.batcher()
	return s, nil
}

// DB returns the pool of read-only connections. Reads of any table of the
// file belong here; a write through it fails ("attempt to write a readonly
// database").
func (s *Store) DB() *sqlx.DB { return s.read }

// WriteDB returns the process's single writer connection. Every write of
// any adapter sharing the file goes through it: its transactions begin
// IMMEDIATE (taking the write lock at BEGIN, so they never fail half way
// with SQLITE_BUSY), and they queue for the one connection. A goroutine
// holding a transaction on it must not call Append or AppendMulti, which
// wait for the same connection.
func (s *Store) WriteDB() *sqlx.DB { return s.write }

// Close stops the batcher, after the batch it is writing, and closes both
// pools. Later calls return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.batcherDone
		s.closeErr = errors.Join(s.readStmts.Close(), s.writeStmts.Close(), s.read.Close(), s.write.Close())
	})
	return s.closeErr
}

// Migrate applies every migration in the package's migrations folder that
// db has not applied yet. Open calls it; db should be a writer connection.
func Migrate(ctx context.Context, db *sql.DB) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("sqlite migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys,
		goose.WithDisableGlobalRegistry(true),
		goose.WithGoMigrations(tilesMigration()),
		goose.WithLogger(goose.NopLogger()),
	)
	if err != nil {
		return fmt.Errorf("sqlite migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlite migrate: %w", err)
	}
	return nil
}

// wakeup wakes the WaitForEvents of this process after its own commits;
// other processes' appends to the file are seen by WaitForEvents's poll.
type wakeup struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced after each commit
}

// broadcast wakes every WaitForEvents in this process.
func (w *wakeup) broadcast() {
	w.mu.Lock()
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
}

// subscribe returns a channel that is closed by the next broadcast.
func (w *wakeup) subscribe() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changed
}

// tilesMigration is migration 00014, in Go: audit_hashes becomes
// audit_tiles (see tilemigrate.Up).
func tilesMigration() *goose.Migration {
	return goose.NewGoMigration(14,
		&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error { return tilemigrate.Up(ctx, tx, "sqlite3") }},
		&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error { return tilemigrate.Down(ctx, tx, "sqlite3") }})
}
