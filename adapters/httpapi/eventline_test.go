package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/storetest"
	"github.com/referral-ledger/referral-ledger/domain"
)

// appendEventLine writes what encoding/json writes for an audited event,
// byte for byte, whatever the event holds: the stream's lines and a
// page's events are the same JSON.
func TestEventLineAsEncodingJSON(t *testing.T) {
	at := time.Date(2026, 12, 2, 13, 4, 5, 678_900_000, time.FixedZone("x", 3600))
	strs := []string{"as_1:referral:ABC", "", `quo"te\back`, "<a & b>", "tab\there\nnl\x01\x1f", "é ü 日本 🎉",
		"x<y", "a>b", "line\u2028sep\u2029par", "bad\xffutf8\xc3", "\x7f del", "plain-ID_09"}
	raws := []string{`{"a":1}`, ` { "a" : [ 1 , 2 ] ,"b":"x y" } `, `{"html":"<script>&</script>"}`, `"\u2028 and ` + "\u2028\u2029" + `"`,
		`{"n":1.50e+3,"s":"\u00e9","t":true,"z":null}`, `[]`, `null`, "{\n\t\"k\": \"v\"\n}", `{"esc":"\"\\\/"}`}
	leaf := int64(42)
	n := 0
	for i, s := range strs {
		for j, raw := range raws {
			e := domain.RecordedEvent{Position: uint64(i*100 + j + 1), Stream: s, Version: uint64(j), ID: strs[(i+1)%len(strs)],
				Type: strs[(i+2)%len(strs)], RecordedAt: at.Add(time.Duration(j) * time.Hour), Data: []byte(raw), Metadata: []byte(raws[(i+j)%len(raws)])}
			if j%3 == 0 {
				e.Metadata = nil
			}
			plain, err := json.Marshal(EventOf(e))
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := AppendEventLine(&got, e); err != nil || got.String() != string(plain)+"\n" {
				t.Errorf("event %+v, export line (%v):\n got %s\nwant %s", e, err, got.String(), plain)
			}
			for _, l := range []*int64{nil, &leaf} {
				want, err := json.Marshal(auditedEvent{EventJSON: EventOf(e), LeafIndex: l})
				if err != nil {
					t.Fatal(err)
				}
				var got bytes.Buffer
				got.WriteString("prefix ")
				if err := appendEventLine(&got, e, l); err != nil {
					t.Fatalf("%+v: %v", e, err)
				}
				if w := "prefix " + string(want) + "\n"; got.String() != w {
					t.Errorf("event %+v:\n got %s\nwant %s", e, got.String(), w)
				}
				n++
			}
		}
	}
	if n != len(strs)*len(raws)*2 {
		t.Fatalf("compared %d lines", n)
	}
}

// An event whose stored data or metadata is not JSON (a store edited by
// hand) is an error, as it is to encoding/json: the stream must not send
// a line that is not JSON, nor part of one.
func TestEventLineRefusesInvalidJSON(t *testing.T) {
	for _, raw := range []string{``, `{`, `{"a":}`, `nul`, `{"a":1} x`} {
		e := domain.RecordedEvent{Stream: "s", ID: "i", Type: "t", Data: []byte(`{}`), Metadata: []byte(raw)}
		if _, err := json.Marshal(auditedEvent{EventJSON: EventOf(e)}); err == nil {
			t.Fatalf("encoding/json took metadata %q", raw)
		}
		buf := bytes.NewBufferString("whole line\n")
		if err := appendEventLine(buf, e, nil); err == nil || buf.String() != "whole line\n" {
			t.Errorf("metadata %q: error %v, buffer %q (want an error and the buffer as it was)", raw, err, buf.String())
		}
		if err := AppendEventLine(buf, e); err == nil || buf.String() != "whole line\n" {
			t.Errorf("metadata %q, export line: error %v, buffer %q", raw, err, buf.String())
		}
		e.Data, e.Metadata = e.Metadata, nil
		if err := appendEventLine(buf, e, nil); err == nil || buf.String() != "whole line\n" {
			t.Errorf("data %q: error %v, buffer %q", raw, err, buf.String())
		}
	}
}

// readPages, reading ahead of a stream whose writer has stopped taking
// pages (the client left, or a limit was reached), ends when the request's
// context does, and closes its channel: the handler waits for it.
func TestReadPagesEndsWithTheRequest(t *testing.T) {
	t.Parallel()
	store, _, _ := storetest.Open(t, "sqlite")
	ctx := context.Background()
	for i := range 3 {
		evs := make([]domain.EventData, maxEventsPage)
		for k := range evs {
			evs[k] = domain.EventData{ID: domain.NewID(), Type: "Noted", Data: []byte(`{}`)}
		}
		if _, err := store.Append(ctx, fmt.Sprintf("as_1:note:%d", i), domain.NoStream(), evs...); err != nil {
			t.Fatal(err)
		}
	}
	s := New(domain.NewService(store, domain.ServiceConfig{}), nil, slog.New(slog.NewTextHandler(io.Discard, nil)), Config{})
	o := domain.Origin{AppspaceID: "as_1"}
	first, err := s.readEvents(ctx, o, 0, maxEventsPage)
	if err != nil || len(first) != maxEventsPage {
		t.Fatalf("first page: %d events, %v", len(first), err)
	}
	rctx, cancel := context.WithCancel(ctx)
	pages, done := make(chan streamPage), make(chan struct{})
	go func() {
		defer close(done)
		s.readPages(rctx, o, eventsQuery{}, first, pages)
	}()
	if p := <-pages; len(p.events) != maxEventsPage || p.err != nil {
		t.Fatalf("first page sent: %d events, %v", len(p.events), p.err)
	}
	time.Sleep(50 * time.Millisecond) // the next page is read, and waits to be taken
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("readPages did not end with its context")
	}
	if _, open := <-pages; open {
		t.Error("readPages ended without closing its channel")
	}
}
