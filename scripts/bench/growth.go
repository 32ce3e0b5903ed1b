package main

import (
	"context"
	"fmt"
	"log"
	"slices"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/scripts/benchkit"
)

// growthTarget: a figure as the log grows stays within 10% of its baseline.
const growthTarget = 90.0

// runGrowth prints commands/s with 1k, 100k and 1M (capped at
// o.growthMax) events in the log beside the 1k figure, then a referrer
// with o.referrals referrals beside a new referrer.
func runGrowth(ctx context.Context, s benchkit.Store, o options) {
	svc := domain.NewService(s.Events, domain.ServiceConfig{})
	as := domain.NewPrefixedID("as")
	w := benchkit.NewEventWriter(ctx, s.Write)
	// A second of commands first, not counted: the first measurement of a
	// process otherwise pays for opening the pool's connections and
	// preparing statements on each, which lowered the 1k baseline.
	measure(s.Name, "warm-up (not counted)", 0, options{duration: time.Second, conc: o.conc}, func(wk, i int) error {
		return commandPair(ctx, svc, as, "gwarm", wk, i)
	})
	fmt.Printf("%-9s %12s %12s %16s\n", "store", "log events", "cmds/s", "vs 1k (target)")
	var base float64
	for _, level := range []int{1_000, 100_000, 1_000_000} {
		if level > o.growthMax {
			break
		}
		var have int
		if err := s.Write.GetContext(ctx, &have, `SELECT count(*) FROM events`); err != nil {
			log.Fatal(err)
		}
		fillReferrals(w, domain.NewPrefixedID("as"), level-have, fmt.Sprintf("G%d", level))
		w.Flush()
		settled := benchkit.Settle(ctx, s)
		rate := measure(s.Name, fmt.Sprintf("log %d", level), 0, o, func(wk, i int) error {
			return commandPair(ctx, svc, as, fmt.Sprintf("g%d", level), wk, i)
		})
		if base == 0 {
			base = rate
		}
		fmt.Printf("%-9s %12d %12.0f %8.0f%% (≥%2.0f%%) %s (%s)\n", s.Name, level, rate, 100*rate/base, growthTarget, verdict(100*rate/base >= growthTarget), settled)
	}
	bigReferrer(ctx, s, svc, as, w, o)
}

// growthRounds is how many times the referrer figures are measured, in
// the order new, big, big, new, ...: sequential commands are bound by the
// commit's flush, whose latency drifts with the machine's other disk
// writes, so each round pairs the two figures side by side and the median
// round is printed.
const growthRounds = 4

// bigReferrer compares sequential create+complete pairs of a referrer with
// o.referrals completed referrals to those of a new referrer.
func bigReferrer(ctx context.Context, s benchkit.Store, svc *domain.Service, as string, w *benchkit.EventWriter, o options) {
	seedReferrer(w, as, "big", o.referrals)
	w.Flush()
	seq := options{duration: o.duration / 2, conc: 1}
	ratios := make([]float64, growthRounds)
	for round := range growthRounds {
		fresh := fmt.Sprintf("fresh%d", round)
		pair := func(referrer string) float64 {
			return 2 * measure(s.Name, referrer, 0, seq, func(int, int) error { return completePair(ctx, svc, as, referrer) })
		}
		var newRate, bigRate float64
		if round%2 == 0 {
			newRate, bigRate = pair(fresh), pair("big")
		} else {
			bigRate, newRate = pair("big"), pair(fresh)
		}
		ratios[round] = 100 * bigRate / newRate
		fmt.Printf("%-9s round %d: referrer with %d referrals %.0f sequential cmds/s, a new referrer %.0f: %.0f%%\n",
			s.Name, round+1, o.referrals, bigRate, newRate, ratios[round])
	}
	slices.Sort(ratios)
	med := (ratios[growthRounds/2-1] + ratios[growthRounds/2]) / 2
	fmt.Printf("%-9s referrer with %d referrals vs a new referrer, median of %d rounds: %.0f%% (≥%2.0f%%) %s\n",
		s.Name, o.referrals, growthRounds, med, growthTarget, verdict(med >= growthTarget))
}

// completePair is one create+complete pair per call for one referrer: it
// creates a referral and completes it with a new referred user.
func completePair(ctx context.Context, svc *domain.Service, as, referrer string) error {
	o := domain.Origin{AppspaceID: as, RequestID: domain.NewID()}
	res, err := svc.CreateReferral(ctx, o, domain.CreateInput{ReferrerID: referrer})
	if err == nil && !res.Created {
		err = fmt.Errorf("create for %s returned a pending referral", referrer)
	}
	if err != nil {
		return err
	}
	o.RequestID = domain.NewID()
	_, err = svc.ReachMilestone(ctx, o, res.Referral.ReferralCode, domain.MilestoneInput{
		Milestone: "completed", ReferredUserID: referrer + "-friend-" + domain.NewID()})
	return err
}

// fillReferrals writes n events of synthetic referral streams of appspace
// as: each referral is created; every other one also completes.
func fillReferrals(w *benchkit.EventWriter, as string, n int, prefix string) {
	base := time.Now().UTC().Add(-24 * time.Hour)
	for i, added := 0, 0; added < n; i++ {
		code := fmt.Sprintf("%s%09d", prefix, i)
		exp := base.AddDate(0, 0, 30)
		evs := []domain.Event{&domain.ReferralCreated{ReferralID: domain.NewID(), ReferralCode: code,
			ReferrerID: fmt.Sprintf("user-%d", i%100_000), CreatedAt: base, ExpiresAt: &exp}}
		if i%2 == 0 {
			evs = append(evs, completion(fmt.Sprintf("friend-%s-%d", prefix, i), base)...)
		}
		for v, e := range evs {
			if added == n {
				break
			}
			w.Add(domain.ReferralStream(as, code), v+1, e)
			added++
		}
	}
}

func completion(referee string, at time.Time) []domain.Event {
	return []domain.Event{&domain.RefereeAttributed{ReferredUserID: referee, AttributedAt: at},
		&domain.MilestoneReached{Milestone: "completed", ReachedAt: at},
		&domain.ReferralCompleted{Milestone: "completed", ReferredUserID: &referee, CompletedAt: at}}
}

// seedReferrer writes a referrer with n completed referrals, as n
// create+complete pairs would have: its stream's ReferrerCodeIssued events
// and each referral's stream.
func seedReferrer(w *benchkit.EventWriter, as, referrer string, n int) {
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	exp := at.AddDate(0, 0, 30)
	for i := range n {
		code := fmt.Sprintf("BIG%07d", i)
		created := domain.ReferralCreated{ReferralID: domain.NewID(), ReferralCode: code, ReferrerID: referrer, CreatedAt: at, ExpiresAt: &exp}
		w.Add(domain.ReferrerStream(as, referrer), i+1, &domain.ReferrerCodeIssued{ReferralCode: code, CompletedBefore: i, Issued: i + 1, Created: created})
		c := created
		for v, e := range append([]domain.Event{&c}, completion(fmt.Sprintf("big-friend-%d", i), at)...) {
			w.Add(domain.ReferralStream(as, code), v+1, e)
		}
	}
}
