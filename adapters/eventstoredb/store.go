// Package eventstoredb keeps the event log in EventStoreDB (KurrentDB)
// through github.com/EventStore/EventStore-Client-Go/v4. It implements
// domain.EventStore and passes the conformance suite in
// domain/eventstoretest; it does not implement domain.MultiAppender, since
// this client has no multi-stream transaction (docs/decisions.md, "EventStoreDB:
// two-stream commands"): the domain service then appends stream by stream,
// in an order the next command repairs.
//
// The mapping between the port and the server:
//
//   - Revisions. Our stream revisions start at 1, the server's event
//     numbers at 0: revision r is event number r-1, and Exact(r) expects
//     event number r-1. NoStream and Any map to the server's own.
//   - Event IDs. The caller's event ID (a UUID) is the server's event ID,
//     so the server recognises a retried append with NoStream or Exact and
//     writes nothing (with Any it does so only while the ID is in its cache
//     of recent writes; the domain never appends with Any).
//   - Positions. A domain.Position is the event's commit position in $all.
//     Every event this adapter writes is an implicit transaction of one
//     gRPC append, and the server reads such an event at (commit, prepare)
//     = (its log position, its log position): the prepare position equals
//     the commit position, so one uint64 names the event and the cursor
//     Position{Commit: p, Prepare: p} resumes after it. Log positions are
//     below 2^63, so they survive the int64 checkpoints of the projections.
//     Position 0 never names an event: the log starts with an epoch record.
//   - Recorded times. An event's recorded time is the server's created
//     time, except for an event that Import wrote: the server takes no
//     time from a client, so Import keeps the original one in the event's
//     metadata, in an envelope under "$ledger." keys that the read path
//     opens again (import.go).
//   - The global log is $all without the server's own events: streams or
//     event types starting with "$" (statistics, metadata, links, ...),
//     and events of explicit transactions (commit != prepare), which only
//     the legacy TCP protocol writes, never this adapter. StreamPrefix
//     narrows it further. The client cannot filter a read of $all on the
//     server, so ReadAll filters the pages it reads; WaitForEvents uses a
//     server-side filter on its subscription.
//
// It needs EventStoreDB 22.10 or later, or KurrentDB: older servers report
// no $all position for events read from a stream. Give the ledger a server
// (or cluster) of its own: its global log is every stream but the server's.
package eventstoredb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
)

// Config configures a Store.
type Config struct {
	// URL is an esdb:// connection string, for example
	// esdb://localhost:2113?tls=false.
	URL string
	// Logger receives the client library's own log lines at debug level;
	// nil discards them. Errors reach callers as return values.
	Logger *slog.Logger
}

// Validate reports a missing or malformed URL.
func (c Config) Validate() error {
	if c.URL == "" {
		return errors.New("eventstoredb: URL is required")
	}
	if !strings.HasPrefix(c.URL, "esdb://") && !strings.HasPrefix(c.URL, "esdb+discover://") &&
		!strings.HasPrefix(c.URL, "kurrentdb://") && !strings.HasPrefix(c.URL, "kurrentdb+discover://") {
		return errors.New("eventstoredb: URL must start with esdb:// or esdb+discover://")
	}
	return nil
}

// Store is the event store on an EventStoreDB server.
type Store struct {
	client *esdb.Client
}

// Open connects to the server that cfg names and checks that it answers.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	conf, err := esdb.ParseConnectionString(kurrentToESDB(cfg.URL))
	if err != nil {
		return nil, fmt.Errorf("eventstoredb: connection string: %w", err)
	}
	conf.Logger = clientLogger(cfg.Logger)
	client, err := esdb.NewClient(conf)
	if err != nil {
		return nil, fmt.Errorf("eventstoredb: %w", err)
	}
	s := &Store{client: client}
	if err := s.Ping(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("eventstoredb: %w", err), s.Close())
	}
	return s, nil
}

// kurrentToESDB accepts KurrentDB's URL scheme, which this client predates.
func kurrentToESDB(u string) string {
	if rest, ok := strings.CutPrefix(u, "kurrentdb"); ok {
		return "esdb" + rest
	}
	return u
}

// clientLogger turns the client's log lines into slog debug records.
func clientLogger(l *slog.Logger) esdb.LoggingFunc {
	if l == nil {
		return esdb.NoopLogging()
	}
	return func(level esdb.LogLevel, format string, args ...any) {
		l.Debug(fmt.Sprintf(format, args...), "component", "eventstoredb-client", "client_level", level)
	}
}

// Close closes the connection.
func (s *Store) Close() error { return s.client.Close() }

// Ping reads the last event of $all, which any reachable server answers.
func (s *Store) Ping(ctx context.Context) error {
	rs, err := s.client.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1)
	if err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	defer rs.Close()
	if _, err := rs.Recv(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}
