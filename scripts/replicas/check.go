package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/lib/pq"

	"github.com/referral-ledger/referral-ledger/adapters/postgres"
	"github.com/referral-ledger/referral-ledger/domain"
)

// receiver counts deliveries by event id.
type receiver struct {
	url  string
	mu   sync.Mutex
	seen map[string]int
}

func startReceiver() *receiver {
	r := &receiver{seen: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	r.url = "http://" + ln.Addr().String() + "/hooks"
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { //nolint:errcheck // runs until exit
		var b struct {
			ID string `json:"id"`
		}
		body, _ := io.ReadAll(req.Body)
		if json.Unmarshal(body, &b) == nil && b.ID != "" {
			r.mu.Lock()
			r.seen[b.ID]++
			r.mu.Unlock()
		}
	}))
	return r
}

// webhookTypes are the log types of the events the receiver subscribed to.
var webhookTypes = []string{domain.TypeReferralCreated, domain.TypeReferralCompleted, domain.TypeMilestoneReached,
	domain.TypeRewardClaimed, domain.TypeReferralExpired}

// check prints the invariant checks and whether all held.
func check(ctx context.Context, st *postgres.Store, appspace string, r *results, recv *receiver, drain time.Duration) bool {
	db := st.DB()
	ok := true
	codes := 0
	for _, ref := range r.referrers {
		var issued int
		db.QueryRowxContext(ctx, `SELECT count(*) FROM events WHERE stream = $1`, domain.ReferrerStream(appspace, ref)).Scan(&issued) //nolint:errcheck // a failure reads as 0
		if issued != 1 || r.codes[ref] == "" {
			ok = false
			fmt.Printf("  referrer %s: %d codes issued, answers agreed: %v\n", ref, issued, r.codes[ref] != "")
		} else {
			codes++
		}
	}
	fmt.Printf("\none code per referrer: %d of %d referrers probed by 8 concurrent creates (4 per replica) held\n", codes, len(r.referrers))
	var bad int
	err := db.GetContext(ctx, &bad, `SELECT count(*) FROM (SELECT stream, data->>'side' FROM events WHERE type = $1 AND stream = ANY($2)
		GROUP BY 1, 2 HAVING count(*) > 1) dup`, domain.TypeRewardClaimed, pq.Array(claimStreams(appspace, r.claimed)))
	var claims int
	err2 := db.GetContext(ctx, &claims, `SELECT count(*) FROM events WHERE type = $1 AND stream = ANY($2)`, domain.TypeRewardClaimed, pq.Array(claimStreams(appspace, r.claimed)))
	if err != nil || err2 != nil {
		log.Fatal(err, err2)
	}
	fmt.Printf("one claim per side: %d referrals probed by 8 concurrent claims (4 per side, split across replicas): %d RewardClaimed events (want %d), %d sides claimed twice\n",
		len(r.claimed), claims, 2*len(r.claimed), bad)
	ok = ok && bad == 0 && claims == 2*len(r.claimed)
	return deliveries(ctx, st, appspace, recv, drain) && ok
}

func claimStreams(appspace string, codes []string) []string {
	out := make([]string, len(codes))
	for i, c := range codes {
		out[i] = domain.ReferralStream(appspace, c)
	}
	return out
}

// deliveries waits until the receiver has every event the log holds for
// its subscription, and prints what is missing and what came twice.
func deliveries(ctx context.Context, st *postgres.Store, appspace string, recv *receiver, drain time.Duration) bool {
	var ids []string
	err := st.DB().SelectContext(ctx, &ids, `SELECT id FROM events WHERE starts_with(stream, $1) AND type = ANY($2)`,
		appspace+":", pq.Array(webhookTypes))
	if err != nil {
		log.Fatal(err)
	}
	start := time.Now()
	var missing, twice, stray int
	for {
		recv.mu.Lock()
		missing, twice, stray = 0, 0, 0
		want := map[string]bool{}
		for _, id := range ids {
			want[id] = true
			if recv.seen[id] == 0 {
				missing++
			}
		}
		for id, n := range recv.seen {
			if n > 1 {
				twice++
			}
			if !want[id] {
				stray++
			}
		}
		recv.mu.Unlock()
		if missing == 0 || time.Since(start) > drain {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	fmt.Printf("every event delivered once: %d events in the log for the subscription; %d missing after %s, %d delivered more than once, %d deliveries of no such event\n",
		len(ids), missing, time.Since(start).Round(time.Second), twice, stray)
	return missing == 0 && twice == 0 && stray == 0
}
