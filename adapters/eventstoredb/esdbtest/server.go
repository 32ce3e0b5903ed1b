// Package esdbtest emulates, in process, the part of KurrentDB's gRPC
// "streams" service that adapters/eventstoredb uses, so that the adapter's
// conformance suite, the crash-repair suite and serve on the eventstoredb
// profile run in `go test ./...` without a server. It is for tests only:
// no non-test code imports it.
//
// What it emulates, and the server source each behaviour follows (paths in
// the kurrent-io/KurrentDB repository):
//
//   - Append with an expected revision, the idempotency checks and the
//     wrong-expected-version reply as the client parses it:
//     src/KurrentDB.Core/Services/Transport/Grpc/Streams.Append.cs and
//     src/KurrentDB.Core/Services/Storage/ReaderIndex/IndexWriter.cs
//     (CheckCommit).
//   - Stream reads forwards and backwards, a missing stream as a
//     StreamNotFound message, and $all reads forwards and backwards with
//     commit and prepare positions:
//     src/KurrentDB.Core/Services/Transport/Grpc/Streams.Read.cs and
//     src/KurrentDB.Core/Services/Transport/Enumerators/Enumerator.Read*.cs.
//     The client sends no control option (compatibility 0), so the server
//     sends no first/last stream position messages, and neither does this.
//   - Catch-up subscriptions to $all with server-side filters (stream or
//     event type, prefixes or a regex): a confirmation, the events after
//     the start position (exclusive), checkpoints every
//     checkpoint-interval-multiplier x max-search-window events considered
//     and on going live, a caught-up message, then live events:
//     src/KurrentDB.Core/Services/Transport/Enumerators/Enumerator.AllSubscriptionFiltered.cs.
//   - Deadlines come from gRPC itself; faults (see Faults) drop
//     subscriptions, refuse appends, lose replies and connections.
//
// Every append is an implicit transaction: each event is read back at
// (commit, prepare) = (its log position, its log position), and log
// positions grow by each record's size. A fresh server holds two system
// events first ($epoch-information and $settings), as a fresh KurrentDB
// node writes its epoch and default ACL records before any user event.
//
// The cache of committed event IDs that makes an append with expected
// revision Any idempotent is bounded as the server bounds it (idcache.go):
// a retry with Any long after the append writes the events again, as on
// a real node. Known differences from the server: nothing is persisted
// beyond the process (the Server value outlives restarts of its listener,
// as a server's disk outlives the process); no authentication, TLS,
// deletes, links or persistent subscriptions. A read of $all from a position that names no
// record starts at the next record.
package esdbtest

import (
	"net"
	"sync"
	"testing"
	"time"

	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// record is one event of the log.
type record struct {
	stream      string
	number      uint64 // the event number in its stream, from 0
	pos         uint64 // the log position: commit = prepare
	id          uuid.UUID
	typ         string
	contentType string
	data, meta  []byte
	created     time.Time
}

// size is the record's size in the log, which the next position adds.
func (r *record) size() uint64 {
	return uint64(96 + len(r.stream) + len(r.typ) + len(r.data) + len(r.meta))
}

// Server is an emulated single KurrentDB node listening on 127.0.0.1. It
// has three parts, one concern each: the log (storage.go), the gRPC
// streams service that serves it (streams.go, append.go, read.go,
// subscribe.go), and the fault controls a test arms (Faults, faults.go).
// Server itself only listens, stops and restarts.
type Server struct {
	log    *storage
	faults *Faults

	mu   sync.Mutex
	addr string
	ln   net.Listener
	grpc *grpc.Server
}

// Start starts a server on a free loopback port; it stops when tb ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := New()
	if err := s.listen("127.0.0.1:0"); err != nil {
		tb.Fatalf("esdbtest: %v", err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// New returns a server that is not listening yet; Listen starts it. Most
// tests want Start.
func New() *Server {
	return &Server{log: newStorage(), faults: newFaults()}
}

// Faults are the server's fault controls.
func (s *Server) Faults() *Faults { return s.faults }

// Listen serves on addr ("127.0.0.1:0" picks a port).
func (s *Server) Listen(addr string) error { return s.listen(addr) }

func (s *Server) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	// The client pings every 10 s (esdb.Configuration.KeepAliveInterval); grpc-go's
	// default policy answers pings more often than every 5 min with GOAWAY
	// "too_many_pings", which a KurrentDB node (Kestrel's HTTP/2) does not do.
	g := grpc.NewServer(grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
		MinTime:             time.Second,
		PermitWithoutStream: true,
	}))
	api.RegisterStreamsServer(g, &streamsService{log: s.log, faults: s.faults})
	s.mu.Lock()
	s.ln, s.grpc, s.addr = ln, g, ln.Addr().String()
	s.mu.Unlock()
	go func() { _ = g.Serve(ln) }()
	return nil
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// URL is the connection string of the server, without TLS.
func (s *Server) URL() string { return "esdb://" + s.Addr() + "?tls=false" }

// Stop closes the listener and every connection, as a node that goes
// down; the log stays in s. Restart serves it again on the same address.
func (s *Server) Stop() {
	s.mu.Lock()
	g := s.grpc
	s.grpc = nil
	s.mu.Unlock()
	if g != nil {
		g.Stop()
	}
}

// Restart stops the server and serves the same log on the same address:
// clients see their connections break and must reconnect.
func (s *Server) Restart() error {
	s.Stop()
	return s.listen(s.Addr())
}

// Len is the number of records in $all, the server's own included.
func (s *Server) Len() int { return s.log.len() }
