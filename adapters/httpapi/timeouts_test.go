package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/httpapi"
)

// shortTimeouts makes slow clients visible in a test's time.
var shortTimeouts = httpapi.Timeouts{ReadHeader: 300 * time.Millisecond, Body: time.Second,
	BodyIdle: 300 * time.Millisecond, Write: 300 * time.Millisecond, Idle: time.Second}

// TestSlowClientsAreCutOff: connections that send part of a request and
// then stall, or trickle it, are closed by the server, with or without a
// key. Each waits up to 10s for the close (the deadlines are under 1s).
func TestSlowClientsAreCutOff(t *testing.T) {
	t.Parallel()
	s := newStack(t, "sqlite", httpapi.Config{Timeouts: shortTimeouts})
	addr := strings.TrimPrefix(s.url, "http://")
	create := "POST /v1/api/referral/create HTTP/1.1\r\nHost: ledger\r\nContent-Type: application/json\r\n"
	tests := []struct {
		name    string
		conns   int
		request string
		trickle bool // then send a byte every 100ms, forever
	}{
		{name: "headers never end", conns: 20, request: create},
		{name: "body never comes, no key", conns: 20, request: create + "Content-Length: 100\r\n\r\n"},
		{name: "body never comes, valid key", conns: 5, request: create + "X-API-Key: " + s.key + "\r\nContent-Length: 100\r\n\r\n"},
		{name: "body stops half way", conns: 5, request: create + "X-API-Key: " + s.key + "\r\nContent-Length: 100\r\n\r\n{\"user_id\": "},
		{name: "body trickles", conns: 5, request: create + "Content-Length: 100000\r\n\r\n", trickle: true},
		{name: "unknown route", conns: 5, request: "POST /nowhere HTTP/1.1\r\nHost: ledger\r\nContent-Length: 100\r\n\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var wg sync.WaitGroup
			for i := range tc.conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := stall(addr, tc.request, tc.trickle); err != nil {
						t.Errorf("connection %d: %v", i, err)
					}
				}()
			}
			wg.Wait()
		})
	}
}

// stall sends request, then (if trickle) a byte every 100ms, and returns
// nil once the server closes the connection, an error if it is still
// open after 10s.
func stall(addr, request string, trickle bool) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, request); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if trickle {
		go func() {
			for ctx.Err() == nil {
				time.Sleep(100 * time.Millisecond)
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}()
	}
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, conn) // whatever the server answers, until it closes
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("still open after 10s")
	}
	return nil // EOF or a reset: closed
}

// TestFollowStreamOutlivesTheWriteTimeout: a follower waiting for events
// is not cut off by the write timeout meant for ordinary responses.
func TestFollowStreamOutlivesTheWriteTimeout(t *testing.T) {
	t.Parallel()
	s := newStack(t, "sqlite", httpapi.Config{Timeouts: shortTimeouts})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp := s.get(t, ctx, s.key, "/v1/api/events?follow=true", "application/x-ndjson")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("follow: %d", resp.StatusCode)
	}
	time.Sleep(4 * shortTimeouts.Write) // idle, well past the write timeout
	s.must(t, http.StatusOK, "POST", "/v1/api/referral/create", map[string]any{"user_id": "late"})
	line := make([]byte, 1)
	if _, err := io.ReadFull(resp.Body, line); err != nil {
		t.Fatalf("the follower lost its stream while waiting: %v", err)
	}
}
