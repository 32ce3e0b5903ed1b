package domain

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var holdEnd = t1.AddDate(0, 0, 7) // the end of a 7-day hold on a referral completed at t1

// heldHistory completes the test referral at t1 with both rewards and a
// 7-day hold, followed by extra.
func heldHistory(extra ...Event) []Event {
	h := completedHistory(ptr("points"), ptr("credit"))
	h[2].(*ReferralCompleted).RewardAvailableAt = ptr(holdEnd)
	return append(h, extra...)
}

func flagged(hold bool, reasons ...string) *ReferralFlagged {
	return &ReferralFlagged{Reasons: reasons, HoldsRewards: hold, FlaggedAt: t1}
}

func resolved(decision, note string, at time.Time) *ReviewResolved {
	return &ReviewResolved{Decision: decision, Note: note, ResolvedAt: at}
}

func reversed(side, reason string, clawback bool, at time.Time) *RewardReversed {
	return &RewardReversed{Side: side, Reason: reason, Clawback: clawback, ReversedAt: at}
}

// Given a referral's lifecycle, when a reward is claimed, then holds,
// reviews, reversals and voids refuse it with their codes (invariants 13
// and 14).
func TestClaimRewardLifecycle(t *testing.T) {
	t.Parallel()
	both := func(extra ...Event) []Event { return completedHistory(ptr("points"), ptr("credit"), extra...) }
	claim := &RewardClaimed{Side: SideReferrer, ClaimedAt: now}
	tests := []struct {
		name        string
		history     []Event
		now         time.Time
		wantCode    string
		wantFields  map[string]string
		wantChanges []Event
	}{
		{name: "before the hold ends", history: heldHistory(), now: holdEnd.Add(-time.Millisecond),
			wantCode: ERewardOnHold, wantFields: map[string]string{"available_at": "2026-01-17T10:00:00.000Z"}},
		{name: "at the hold's end", history: heldHistory(), now: holdEnd,
			wantChanges: []Event{&RewardClaimed{Side: SideReferrer, ClaimedAt: holdEnd}}},
		{name: "after the hold", history: heldHistory(), now: holdEnd.Add(time.Hour),
			wantChanges: []Event{&RewardClaimed{Side: SideReferrer, ClaimedAt: holdEnd.Add(time.Hour)}}},
		{name: "open review in hold mode", history: both(flagged(true, ReasonSameIP)), wantCode: EReferralUnderReview},
		{name: "open review in flag mode lets it flow", history: both(flagged(false, ReasonSameIP)), wantChanges: []Event{claim}},
		{name: "approved review releases it", history: both(flagged(true, ReasonSameIP), resolved(DecisionApproved, "", t1)),
			wantChanges: []Event{claim}},
		{name: "approved review, hold period still running", history: heldHistory(flagged(true, ReasonSameIP), resolved(DecisionApproved, "", t1)),
			wantCode: ERewardOnHold, wantFields: map[string]string{"available_at": "2026-01-17T10:00:00.000Z"}},
		{name: "reversed", history: both(reversed(SideReferrer, "refund", false, t1)), wantCode: ERewardReversed},
		{name: "claimed then reversed", history: both(&RewardClaimed{Side: SideReferrer, ClaimedAt: t1}, reversed(SideReferrer, "refund", true, t1)),
			wantCode: ERewardReversed},
		{name: "the other side reversed", history: both(reversed(SideReferee, "refund", false, t1)), wantChanges: []Event{claim}},
		{name: "voided", history: both(reversed(SideReferrer, "x", false, t1), reversed(SideReferee, "x", false, t1), &ReferralVoided{Reason: "x", VoidedAt: t1}),
			wantCode: EReferralVoided},
		{name: "voided while pending", history: []Event{&ReferralVoided{Reason: "x", VoidedAt: t1}}, wantCode: EReferralVoided},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := loadReferral(t, created(), tt.history...)
			at := tt.now
			if at.IsZero() {
				at = now
			}
			_, err := r.ClaimReward(at, SideReferrer)
			checkResult(t, r, err, tt.wantCode, tt.wantChanges)
			var fields map[string]string
			if de, ok := err.(*Error); ok {
				fields = de.Fields
			}
			if diff := cmp.Diff(fields, tt.wantFields); diff != "" {
				t.Errorf("error fields (-got +want):\n%s", diff)
			}
		})
	}
}

// Given a referral, when it is voided, then its rewards are reversed
// (with clawback when claimed), an open review is rejected, and a repeat
// records nothing.
func TestVoid(t *testing.T) {
	t.Parallel()
	both := func(extra ...Event) []Event { return completedHistory(ptr("points"), ptr("credit"), extra...) }
	voided := &ReferralVoided{Reason: "fraud", VoidedAt: now}
	tests := []struct {
		name        string
		history     []Event
		now         time.Time
		reason      string
		wantCode    string
		wantChanges []Event
	}{
		{name: "pending", reason: "fraud", wantChanges: []Event{voided}},
		{name: "completed, nothing claimed", history: both(), reason: "fraud", wantChanges: []Event{
			reversed(SideReferrer, "fraud", false, now), reversed(SideReferee, "fraud", false, now), voided}},
		{name: "completed, referrer claimed", history: both(&RewardClaimed{Side: SideReferrer, ClaimedAt: t1}), reason: "fraud",
			wantChanges: []Event{reversed(SideReferrer, "fraud", true, now), reversed(SideReferee, "fraud", false, now), voided}},
		{name: "one side already reversed", history: both(reversed(SideReferee, "refund", false, t1)), reason: "fraud",
			wantChanges: []Event{reversed(SideReferrer, "fraud", false, now), voided}},
		{name: "no referee reward", history: completedHistory(ptr("points"), nil), reason: "fraud",
			wantChanges: []Event{reversed(SideReferrer, "fraud", false, now), voided}},
		{name: "open review is rejected", history: []Event{flagged(true, ReasonSameIP)}, reason: "fraud",
			wantChanges: []Event{resolved(DecisionRejected, "fraud", now), voided}},
		{name: "repeat", history: []Event{&ReferralVoided{Reason: "fraud", VoidedAt: t1}}, reason: "fraud"},
		{name: "repeat with another reason", history: []Event{&ReferralVoided{Reason: "fraud", VoidedAt: t1}}, reason: "other"},
		{name: "expired", history: []Event{&ReferralExpired{ExpiredAt: expires}}, now: expires.Add(time.Hour), reason: "fraud",
			wantCode: EReferralExpired},
		{name: "pending past expires_at expires first", now: expires.Add(time.Hour), reason: "fraud",
			wantCode: EReferralExpired, wantChanges: []Event{&ReferralExpired{ExpiredAt: expires}}},
		{name: "reason required", reason: "", wantCode: EInvalid},
		{name: "reason with a control character", reason: "a\x00b", wantCode: EInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := loadReferral(t, created(), tt.history...)
			at := tt.now
			if at.IsZero() {
				at = now
			}
			err := r.decide(at, voidCommand{reason: tt.reason})
			checkResult(t, r, err, tt.wantCode, tt.wantChanges)
		})
	}
}

// Given a referral, when one side's reward is reversed, then it is
// reversed once, with clawback when it was claimed.
func TestReverseReward(t *testing.T) {
	t.Parallel()
	both := func(extra ...Event) []Event { return completedHistory(ptr("points"), ptr("credit"), extra...) }
	tests := []struct {
		name        string
		history     []Event
		side        string
		wantCode    string
		wantChanges []Event
	}{
		{name: "unclaimed", history: both(), side: SideReferrer, wantChanges: []Event{reversed(SideReferrer, "refund", false, now)}},
		{name: "claimed: clawback", history: both(&RewardClaimed{Side: SideReferee, ClaimedAt: t1}), side: SideReferee,
			wantChanges: []Event{reversed(SideReferee, "refund", true, now)}},
		{name: "held", history: heldHistory(), side: SideReferrer, wantChanges: []Event{reversed(SideReferrer, "refund", false, now)}},
		{name: "repeat", history: both(reversed(SideReferrer, "refund", false, t1)), side: SideReferrer},
		{name: "pending", side: SideReferrer, wantCode: EReferralNotCompleted},
		{name: "no reward for that side", history: completedHistory(ptr("points"), nil), side: SideReferee, wantCode: ENoRewardConfigured},
		{name: "voided, side reversed: a repeat", history: both(reversed(SideReferrer, "x", false, t1), reversed(SideReferee, "x", false, t1),
			&ReferralVoided{Reason: "x", VoidedAt: t1}), side: SideReferee},
		{name: "voided while pending", history: []Event{&ReferralVoided{Reason: "x", VoidedAt: t1}}, side: SideReferrer, wantCode: EReferralVoided},
		{name: "bad side", history: both(), side: "both", wantCode: EInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := loadReferral(t, created(), tt.history...)
			err := r.decide(now, reverseCommand{side: tt.side, reason: "refund"})
			checkResult(t, r, err, tt.wantCode, tt.wantChanges)
		})
	}
}

// Given a review, when it is approved or rejected, then it is resolved
// once; a rejection voids the referral; approve and reject exclude each
// other.
func TestResolveReview(t *testing.T) {
	t.Parallel()
	open := flagged(true, ReasonSameIP)
	tests := []struct {
		name        string
		history     []Event
		now         time.Time
		approve     bool
		wantCode    string
		wantChanges []Event
	}{
		{name: "approve", history: []Event{open}, approve: true, wantChanges: []Event{resolved(DecisionApproved, "ok", now)}},
		{name: "approve again", history: []Event{open, resolved(DecisionApproved, "ok", t1)}, approve: true},
		{name: "approve without a review", approve: true, wantCode: ENotFound},
		{name: "approve after reject", history: []Event{open, resolved(DecisionRejected, "ok", t1), &ReferralVoided{Reason: "ok", VoidedAt: t1}},
			approve: true, wantCode: EReferralVoided},
		{name: "reject", history: []Event{open}, wantChanges: []Event{resolved(DecisionRejected, "ok", now), &ReferralVoided{Reason: "ok", VoidedAt: now}}},
		{name: "reject a completed referral reverses its rewards", history: completedHistory(ptr("points"), nil, open),
			wantChanges: []Event{resolved(DecisionRejected, "ok", now), reversed(SideReferrer, "ok", false, now), &ReferralVoided{Reason: "ok", VoidedAt: now}}},
		{name: "reject again", history: []Event{open, resolved(DecisionRejected, "ok", t1), &ReferralVoided{Reason: "ok", VoidedAt: t1}}},
		{name: "reject after approve", history: []Event{open, resolved(DecisionApproved, "ok", t1)}, wantCode: EConflict},
		{name: "reject without a review", wantCode: ENotFound},
		{name: "reject an expired referral resolves only", history: []Event{open}, now: expires.Add(time.Hour),
			wantChanges: []Event{&ReferralExpired{ExpiredAt: expires}, resolved(DecisionRejected, "ok", expires.Add(time.Hour))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := loadReferral(t, created(), tt.history...)
			at := tt.now
			if at.IsZero() {
				at = now
			}
			var err error
			if tt.approve {
				err = r.decide(at, approveCommand{note: "ok"})
			} else {
				err = r.decide(at, rejectCommand{reason: "ok"})
			}
			checkResult(t, r, err, tt.wantCode, tt.wantChanges)
		})
	}
}
