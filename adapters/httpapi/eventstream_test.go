package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/storetest"
	"github.com/referral-ledger/referral-ledger/domain"
)

// A stream of many pages (read ahead of the one being written) sends the
// appspace's log once, in order, each event the same JSON as the pages of
// /events show it, leaf indexes included (sealed events have one, the
// rest null); a limit and a type filter hold across pages.
func TestEventsStreamSpansPages(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, kind string) {
		s := newAuditedStack(t, kind)
		ctx := context.Background()
		appendNotes := func(from, n int) {
			for i := from; i < from+n; i += 100 {
				evs := make([]domain.EventData, 100)
				for k := range evs {
					evs[k] = domain.EventData{ID: domain.NewID(), Type: fmt.Sprint("Noted", (i+k)%3),
						Data: []byte(fmt.Sprintf(`{"n": %d, "note": "<a & b> é"}`, i+k)), Metadata: []byte(`{"by":"test"}`)}
				}
				if _, err := s.store.Append(ctx, fmt.Sprintf("%s:note:%d", s.space, i), domain.NoStream(), evs...); err != nil {
					t.Fatal(err)
				}
			}
		}
		appendNotes(0, 2300)
		s.seal(t)
		appendNotes(2300, 300) // not sealed

		// The pages, as encoding/json writes them.
		var pages []json.RawMessage
		for after := any(0); ; {
			var page struct {
				Events    []json.RawMessage `json:"events"`
				NextAfter uint64            `json:"next_after"`
			}
			resp := s.get(t, ctx, s.key, fmt.Sprintf("/v1/api/events?after=%v&limit=1000", after), "")
			if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			pages = append(pages, page.Events...)
			if len(page.Events) < 1000 {
				break
			}
			after = page.NextAfter
		}
		if len(pages) != 2600 {
			t.Fatalf("pages hold %d events, want 2600", len(pages))
		}
		stream := func(query string) [][]byte {
			resp := s.get(t, ctx, s.key, "/v1/api/events?"+query, "application/x-ndjson")
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("stream %s: %d", query, resp.StatusCode)
			}
			var lines [][]byte
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				lines = append(lines, bytes.Clone(sc.Bytes()))
			}
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
			return lines
		}
		all := stream("after=0")
		if len(all) != len(pages) {
			t.Fatalf("stream sent %d events, the pages %d", len(all), len(pages))
		}
		sealed := 0
		for i := range all {
			if !bytes.Equal(all[i], pages[i]) {
				t.Fatalf("event %d:\nstream %s\npage   %s", i, all[i], pages[i])
			}
			var e struct {
				Data      struct{ N int }
				LeafIndex *int64 `json:"leaf_index"`
			}
			if err := json.Unmarshal(all[i], &e); err != nil {
				t.Fatal(err)
			}
			if e.Data.N != i {
				t.Fatalf("event %d holds n=%d: out of order", i, e.Data.N)
			}
			if e.LeafIndex != nil {
				if *e.LeafIndex != int64(i) {
					t.Fatalf("event %d has leaf %d", i, *e.LeafIndex)
				}
				sealed++
			}
		}
		if sealed != 2300 {
			t.Errorf("%d events streamed with a leaf index, want the 2300 sealed", sealed)
		}

		if got := stream("after=0&limit=1500"); len(got) != 1500 || !bytes.Equal(got[1499], pages[1499]) {
			t.Errorf("limit=1500 sent %d events", len(got))
		}
		noted1 := stream("after=0&type=Noted1")
		var want [][]byte
		for i := 1; i < 2600; i += 3 {
			want = append(want, pages[i])
		}
		if len(noted1) != len(want) {
			t.Fatalf("type=Noted1 sent %d events, want %d", len(noted1), len(want))
		}
		for i := range want {
			if !bytes.Equal(noted1[i], want[i]) {
				t.Fatalf("type=Noted1, event %d:\nstream %s\nwant   %s", i, noted1[i], want[i])
			}
		}
	})
}

// A client that leaves in the middle of a long stream, or a limit reached
// there, ends it: the server stops reading ahead, and the next request is
// served as usual.
func TestEventsStreamClientLeaves(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, kind string) {
		s := newStack(t, kind)
		ctx := context.Background()
		for i := range 30 {
			evs := make([]domain.EventData, 100)
			for k := range evs {
				evs[k] = domain.EventData{ID: domain.NewID(), Type: "Noted", Data: []byte(`{}`), Metadata: []byte(`{}`)}
			}
			if _, err := s.store.Append(ctx, fmt.Sprintf("%s:note:%d", s.space, i), domain.NoStream(), evs...); err != nil {
				t.Fatal(err)
			}
		}
		for range 5 {
			cctx, cancel := context.WithCancel(ctx)
			resp := s.get(t, cctx, s.key, "/v1/api/events?after=0", "application/x-ndjson")
			sc := bufio.NewScanner(resp.Body)
			for range 10 {
				if !sc.Scan() {
					t.Fatalf("stream ended early: %v", sc.Err())
				}
			}
			cancel()
			resp.Body.Close()
		}
		// A limit ends the stream while pages are still being read ahead.
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		resp := s.get(t, lctx, s.key, "/v1/api/events?after=0&limit=5", "application/x-ndjson")
		n := 0
		for sc := bufio.NewScanner(resp.Body); sc.Scan(); {
			n++
		}
		resp.Body.Close()
		if n != 5 || lctx.Err() != nil {
			t.Fatalf("limit=5 sent %d events (%v), want 5 and the end of the stream", n, lctx.Err())
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			status, out := s.call(t, s.key, "GET", "/v1/api/events?after=0&limit=1", nil)
			if status == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after the clients left: %d %v", status, out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
