package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/postgres"
	"github.com/referral-ledger/referral-ledger/adapters/postgres/pgtest"
	"github.com/referral-ledger/referral-ledger/domain"
)

// eventually fails the test if cond does not hold within 30 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still not true after 30 s: %s", what)
		}
	}
}

func appendOne(t *testing.T, s *postgres.Store, stream string) {
	t.Helper()
	if _, err := s.Append(context.Background(), stream, domain.NoStream(), domain.EventData{ID: domain.NewID(), Type: "TestEvent"}); err != nil {
		t.Fatalf("append %s: %v", stream, err)
	}
}

// TestNotifyWakesOtherStoresOnly: an append's NOTIFY wakes the other
// stores on the schema (replicas), and the appending store's listener
// skips it: its readers were woken when the append committed, and waking
// them again costs each a read that finds nothing.
func TestNotifyWakesOtherStoresOnly(t *testing.T) {
	url := pgtest.SchemaURL(t)
	a, b := open(t, url), open(t, url)
	appendOne(t, a, "from-a")
	eventually(t, "b hears a's append", func() bool { _, _, others := b.NotifyCounts(); return others >= 1 })
	// a's NOTIFY committed before b appends, so a's listener receives it
	// before b's.
	appendOne(t, b, "from-b")
	eventually(t, "a hears b's append", func() bool { _, _, others := a.NotifyCounts(); return others >= 1 })
	for name, s := range map[string]*postgres.Store{"a": a, "b": b} {
		if sent, own, others := s.NotifyCounts(); sent != 1 || others != 1 || (name == "a" && own != 1) {
			t.Errorf("store %s: sent %d, received own %d and others' %d; want 1 sent, its own skipped and the other's taken", name, sent, own, others)
		}
	}
}

// TestNotifyAtMostOneEvery: concurrent appends share NOTIFYs, one at most
// every pause (made long here, so that the bound holds on any machine only
// if the pause is kept), and the last append is still announced.
func TestNotifyAtMostOneEvery(t *testing.T) {
	const every = 100 * time.Millisecond
	postgres.SetNotifyEvery(t, every)
	url := pgtest.SchemaURL(t)
	a, b := open(t, url), open(t, url)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				appendOne(t, a, fmt.Sprintf("s-%d-%d", w, i))
			}
		}()
	}
	wg.Wait()
	// Every NOTIFY sent reaches b, the one that follows the last append
	// included; a sends nothing more once b has them all and a pause has
	// passed.
	var sent int64
	eventually(t, "b hears every NOTIFY a sends", func() bool {
		n, _, _ := a.NotifyCounts()
		_, _, others := b.NotifyCounts()
		if n == 0 || others != n || n != sent {
			sent = n
			return false
		}
		time.Sleep(2 * every)
		n, _, _ = a.NotifyCounts()
		return n == sent
	})
	bound := int64(time.Since(start)/every) + 1
	if sent > bound {
		t.Errorf("200 appends in %s sent %d NOTIFYs; want at most %d (one every %s)", time.Since(start), sent, bound, every)
	}
	t.Logf("200 appends in %s: %d NOTIFYs", time.Since(start), sent)
}
