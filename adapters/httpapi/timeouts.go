package httpapi

import (
	"errors"
	"io"
	"net/http"
	"time"
)

// Timeouts bound how long a client may hold a connection without doing its
// part: without them a client that sends headers and then nothing, or a
// body one byte a minute, keeps a connection (and its goroutine) forever,
// no key needed. Zero fields take the defaults.
type Timeouts struct {
	// ReadHeader is the time to send the request line and headers; 10s.
	ReadHeader time.Duration
	// Body is the time to send the whole body once the headers are in; 30s.
	Body time.Duration
	// BodyIdle is the longest wait for the next bytes of the body: a client
	// that stops sending is cut off then, one that trickles at Body; 10s.
	BodyIdle time.Duration
	// Write is the time to write a response; 60s. Event streams extend it
	// per flush instead, and have none while they wait for events.
	Write time.Duration
	// Idle is how long a kept-alive connection waits for its next request; 2m.
	Idle time.Duration
}

func (t Timeouts) withDefaults() Timeouts {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.ReadHeader, 10*time.Second)
	def(&t.Body, 30*time.Second)
	def(&t.BodyIdle, 10*time.Second)
	def(&t.Write, time.Minute)
	def(&t.Idle, 2*time.Minute)
	return t
}

// HTTPServer returns an http.Server for s with its timeouts. The body's
// deadlines are set per request (ServeHTTP), since http.Server's
// ReadTimeout would also end event streams: the connection's background
// read, which watches for the client leaving, fails at that deadline and
// cancels the request.
func (s *Server) HTTPServer() *http.Server {
	t := s.cfg.Timeouts
	return &http.Server{Handler: s, ReadHeaderTimeout: t.ReadHeader, WriteTimeout: t.Write, IdleTimeout: t.Idle}
}

// limitBody gives r's body a read deadline: BodyIdle from now, pushed back
// as bytes arrive, never past Body from now. After the body's end the
// deadline is cleared, so the wait for the client's next move (the server's
// background read) is not cut short by it. A request without a body gets
// no deadline for the same reason.
func (s *Server) limitBody(w http.ResponseWriter, r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	b := &deadlineBody{body: r.Body, rc: http.NewResponseController(w),
		end: time.Now().Add(s.cfg.Timeouts.Body), idle: s.cfg.Timeouts.BodyIdle}
	if b.extend() != nil {
		return // a writer without deadlines (a test recorder): nothing to bound
	}
	r.Body = b
}

// deadlineBody moves the connection's read deadline as the body arrives.
type deadlineBody struct {
	body io.ReadCloser
	rc   *http.ResponseController
	end  time.Time
	idle time.Duration
}

func (b *deadlineBody) extend() error {
	d := time.Now().Add(b.idle)
	if d.After(b.end) {
		d = b.end
	}
	return b.rc.SetReadDeadline(d)
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	switch {
	case errors.Is(err, io.EOF): // all of it: the connection's next wait is not the body's
		_ = b.rc.SetReadDeadline(time.Time{})
	case err != nil:
		// A timeout keeps its deadline, so that reading the rest after the
		// handler (to reuse the connection) fails at once too.
	case n > 0:
		_ = b.extend()
	}
	return n, err
}

func (b *deadlineBody) Close() error { return b.body.Close() }
