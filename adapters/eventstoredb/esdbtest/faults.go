package esdbtest

import (
	"context"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Faults are the fault controls of a Server: a test arms them, and the
// streams service consults them on every append, read and subscription.
// They keep the registry of live subscriptions, which DropSubscriptions
// ends.
type Faults struct {
	mu        sync.Mutex
	refuse    int           // appends still to refuse before writing
	loseReply int           // appends still to write whose reply is lost
	breakRead int           // reads still to break
	breakAt   int           // events a broken read sends before it breaks
	stall     chan struct{} // while not nil, appends wait for it or their deadline
	hold      map[string]*held
	subs      map[*subscription]struct{}
}

func newFaults() *Faults {
	return &Faults{hold: map[string]*held{}, subs: map[*subscription]struct{}{}}
}

// unavailable is how a client sees a node that is down or unreachable.
func unavailable(what string) error {
	return status.Error(codes.Unavailable, "esdbtest: "+what)
}

// RefuseAppends makes the next n appends fail unavailable before anything
// is written, as while a node is not ready or has no leader.
func (f *Faults) RefuseAppends(n int) {
	f.mu.Lock()
	f.refuse = n
	f.mu.Unlock()
}

// LoseAppendReplies makes the next n appends write their events and then
// fail unavailable: the connection broke before the reply came back.
func (f *Faults) LoseAppendReplies(n int) {
	f.mu.Lock()
	f.loseReply = n
	f.mu.Unlock()
}

// BreakReads makes the next n reads (of a stream or $all, not
// subscriptions) send at most after events and then fail unavailable, as
// a connection lost mid-read.
func (f *Faults) BreakReads(n, after int) {
	f.mu.Lock()
	f.breakRead, f.breakAt = n, after
	f.mu.Unlock()
}

// Stall makes appends wait until the returned function is called or their
// deadline passes, as an overloaded node's do.
func (f *Faults) Stall() (resume func()) {
	c := make(chan struct{})
	f.mu.Lock()
	f.stall = c
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		if f.stall == c {
			f.stall = nil
		}
		f.mu.Unlock()
		close(c)
	}
}

// DropSubscriptions ends every live subscription unavailable, as when the
// node restarts or the connection breaks; it returns how many it dropped.
func (f *Faults) DropSubscriptions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	for sub := range f.subs {
		select {
		case sub.drop <- unavailable("subscription dropped"):
		default:
		}
	}
	return len(f.subs)
}

// Subscriptions is the number of live subscriptions.
func (f *Faults) Subscriptions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// held is an append that HoldAppend waits for.
type held struct{ received, release chan struct{} }

// HoldAppend makes the next append to stream wait once the server has
// received it, before its revision is checked: received is closed then,
// and the append goes on when release is called. It lets a test order
// writers as a busy server's queue may.
func (f *Faults) HoldAppend(stream string) (received <-chan struct{}, release func()) {
	h := &held{received: make(chan struct{}), release: make(chan struct{})}
	f.mu.Lock()
	f.hold[stream] = h
	f.mu.Unlock()
	var once sync.Once
	return h.received, func() { once.Do(func() { close(h.release) }) }
}

// beforeAppend applies the armed faults to an append of stream.
func (f *Faults) beforeAppend(ctx context.Context, stream string) error {
	f.mu.Lock()
	refuse := f.refuse > 0
	if refuse {
		f.refuse--
	}
	stall := f.stall
	hold := f.hold[stream]
	delete(f.hold, stream)
	f.mu.Unlock()
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
func (f *Faults) afterAppend() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.loseReply > 0 {
		f.loseReply--
		return unavailable("connection lost before the reply")
	}
	return nil
}

// readBreak returns how many events the next read may send before it
// breaks, or -1 when it does not break.
func (f *Faults) readBreak() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.breakRead > 0 {
		f.breakRead--
		return f.breakAt
	}
	return -1
}

// subscribed registers a new live subscription.
func (f *Faults) subscribed() *subscription {
	sub := &subscription{drop: make(chan error, 1)}
	f.mu.Lock()
	f.subs[sub] = struct{}{}
	f.mu.Unlock()
	return sub
}

// unsubscribed forgets a subscription that has ended.
func (f *Faults) unsubscribed(sub *subscription) {
	f.mu.Lock()
	delete(f.subs, sub)
	f.mu.Unlock()
}
