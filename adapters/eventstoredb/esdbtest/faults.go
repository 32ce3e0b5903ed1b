package esdbtest

import (
	"context"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// faultState is what the fault methods arm; s.mu guards it.
type faultState struct {
	refuse    int           // appends still to refuse before writing
	loseReply int           // appends still to write whose reply is lost
	breakRead int           // reads still to break
	breakAt   int           // events a broken read sends before it breaks
	stall     chan struct{} // while not nil, appends wait for it or their deadline
	hold      map[string]*held
}

// unavailable is how a client sees a node that is down or unreachable.
func unavailable(what string) error {
	return status.Error(codes.Unavailable, "esdbtest: "+what)
}

// RefuseAppends makes the next n appends fail unavailable before anything
// is written, as while a node is not ready or has no leader.
func (s *Server) RefuseAppends(n int) {
	s.mu.Lock()
	s.faults.refuse = n
	s.mu.Unlock()
}

// LoseAppendReplies makes the next n appends write their events and then
// fail unavailable: the connection broke before the reply came back.
func (s *Server) LoseAppendReplies(n int) {
	s.mu.Lock()
	s.faults.loseReply = n
	s.mu.Unlock()
}

// BreakReads makes the next n reads (of a stream or $all, not
// subscriptions) send at most after events and then fail unavailable, as
// a connection lost mid-read.
func (s *Server) BreakReads(n, after int) {
	s.mu.Lock()
	s.faults.breakRead, s.faults.breakAt = n, after
	s.mu.Unlock()
}

// Stall makes appends wait until the returned function is called or their
// deadline passes, as an overloaded node's do.
func (s *Server) Stall() (resume func()) {
	c := make(chan struct{})
	s.mu.Lock()
	s.faults.stall = c
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		if s.faults.stall == c {
			s.faults.stall = nil
		}
		s.mu.Unlock()
		close(c)
	}
}

// DropSubscriptions ends every live subscription unavailable, as when the
// node restarts or the connection breaks; it returns how many it dropped.
func (s *Server) DropSubscriptions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sub := range s.subs {
		select {
		case sub.drop <- unavailable("subscription dropped"):
		default:
		}
	}
	return len(s.subs)
}

// Subscriptions is the number of live subscriptions.
func (s *Server) Subscriptions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}

// held is an append that HoldAppend waits for.
type held struct{ received, release chan struct{} }

// HoldAppend makes the next append to stream wait once the server has
// received it, before its revision is checked: received is closed then,
// and the append goes on when release is called. It lets a test order
// writers as a busy server's queue may.
func (s *Server) HoldAppend(stream string) (received <-chan struct{}, release func()) {
	h := &held{received: make(chan struct{}), release: make(chan struct{})}
	s.mu.Lock()
	if s.faults.hold == nil {
		s.faults.hold = map[string]*held{}
	}
	s.faults.hold[stream] = h
	s.mu.Unlock()
	var once sync.Once
	return h.received, func() { once.Do(func() { close(h.release) }) }
}

// beforeAppend applies the armed faults to an append of stream.
func (s *Server) beforeAppend(ctx context.Context, stream string) error {
	s.mu.Lock()
	refuse := s.faults.refuse > 0
	if refuse {
		s.faults.refuse--
	}
	stall := s.faults.stall
	hold := s.faults.hold[stream]
	delete(s.faults.hold, stream)
	s.mu.Unlock()
	if refuse {
		return unavailable("server is not ready")
	}
	if hold != nil {
		close(hold.received)
		select {
		case <-hold.release:
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
	if stall != nil {
		select {
		case <-stall:
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
	return nil
}

// afterAppend loses the reply of a written append when armed.
func (s *Server) afterAppend() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.loseReply > 0 {
		s.faults.loseReply--
		return unavailable("connection lost before the reply")
	}
	return nil
}

// readBreak returns how many events the next read may send before it
// breaks, or -1 when it does not break.
func (s *Server) readBreak() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.breakRead > 0 {
		s.faults.breakRead--
		return s.faults.breakAt
	}
	return -1
}
