package crashrepair_test

import (
	"testing"

	"github.com/referral-ledger/referral-ledger/domain"
)

// checkInvariants reads the appspace's log and fails the test where it
// breaks an invariant that two-stream commands could break (docs/architecture.md lists them all):
//   - event IDs are unique (a retried append was recognised, not repeated);
//   - each code has one referral stream, created once, by its first event
//     (code uniqueness);
//   - a referrer has at most one pending referral, and at most maxPerUser
//     pending and completed ones (0: no cap);
//   - a referred user is attributed to at most one referral;
//   - every code reserved on a referrer stream has its referral stream
//     (the repair ran; a code that collided has another referrer's);
//   - every completion counted on a referrer stream (the velocity rule)
//     is a completed referral's.
func checkInvariants(tb testing.TB, n *node, maxPerUser int) {
	tb.Helper()
	streams := map[string][]domain.RecordedEvent{}
	ids := map[string]bool{}
	for _, e := range n.log() {
		if ids[e.ID] {
			tb.Errorf("event ID %s appears twice in the log", e.ID)
		}
		ids[e.ID] = true
		streams[e.Stream] = append(streams[e.Stream], e)
	}
	referrals := map[string]domain.ReferralView{} // by code
	for stream, evs := range streams {
		_, category, key := domain.ParseStream(stream)
		if category != "referral" {
			continue
		}
		created := 0
		for i, e := range evs {
			if e.Type == domain.TypeReferralCreated {
				created++
				if i != 0 {
					tb.Errorf("%s: ReferralCreated at version %d", stream, e.Version)
				}
			}
		}
		if created != 1 {
			tb.Errorf("%s: %d ReferralCreated events, want 1", stream, created)
		}
		r, err := domain.LoadReferral(n.space, evs)
		if err != nil {
			tb.Fatalf("load %s: %v", stream, err)
		}
		if v := r.View(); v.ReferralCode != key {
			tb.Errorf("%s holds referral code %s", stream, v.ReferralCode)
		}
		referrals[key] = r.View()
	}
	pending, active := map[string]int{}, map[string]int{}
	holders := map[string][]string{}
	for code, v := range referrals {
		switch v.Status {
		case domain.StatusPending:
			pending[v.ReferrerID]++
			active[v.ReferrerID]++
		case domain.StatusCompleted:
			active[v.ReferrerID]++
		}
		if v.ReferredUserID != nil {
			holders[*v.ReferredUserID] = append(holders[*v.ReferredUserID], code)
		}
	}
	for referrer, p := range pending {
		if p > 1 {
			tb.Errorf("referrer %s has %d pending referrals, want at most 1", referrer, p)
		}
	}
	for referrer, a := range active {
		if maxPerUser > 0 && a > maxPerUser {
			tb.Errorf("referrer %s has %d active referrals, cap %d", referrer, a, maxPerUser)
		}
	}
	for user, codes := range holders {
		if len(codes) > 1 {
			tb.Errorf("referred user %s is attributed to %d referrals: %v", user, len(codes), codes)
		}
	}
	for stream, evs := range streams {
		_, category, referrer := domain.ParseStream(stream)
		if category != "referrer" {
			continue
		}
		for _, e := range evs {
			ev, err := domain.DecodeEvent(e.Type, e.Data)
			if err != nil {
				tb.Fatalf("%s: %v", stream, err)
			}
			switch ev := ev.(type) {
			case *domain.ReferrerCodeIssued:
				if _, found := referrals[ev.ReferralCode]; !found {
					tb.Errorf("%s reserved %s for %s, which has no referral: not repaired", stream, ev.ReferralCode, referrer)
				}
			case *domain.ReferrerCompletionCounted:
				if v, found := referrals[ev.ReferralCode]; !found || v.CompletedAt == nil {
					tb.Errorf("%s counted the completion of %s, which never completed: not repaired", stream, ev.ReferralCode)
				}
			default:
				tb.Errorf("%s holds a %s event", stream, e.Type)
			}
		}
	}
}
