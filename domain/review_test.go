package domain

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func withReview(mode string, maxDaily *int) func(*Settings) {
	return func(s *Settings) { s.ReviewMode, s.FraudMaxDailyCompletions = mode, maxDaily }
}

// Given a referrer's create IP and device, when a milestone or completion
// attributes a referee or completes, then the fraud rules flag it.
func TestScreen(t *testing.T) {
	t.Parallel()
	c := created()
	c.IP, c.DeviceID = "203.0.113.7", "dev-1"
	sameIP := MilestoneInput{Milestone: "signed_up", ReferredUserID: testReferee, ReferredIP: "203.0.113.7", ReferredDeviceID: "dev-2"}
	sameBoth := MilestoneInput{Milestone: "signed_up", ReferredUserID: testReferee, ReferredIP: "203.0.113.7", ReferredDeviceID: "dev-1"}
	complete := MilestoneInput{Milestone: "completed", ReferredUserID: testReferee}
	attributed := &RefereeAttributed{ReferredUserID: testReferee, AttributedAt: t1}
	tests := []struct {
		name     string
		history  []Event
		settings Settings
		in       MilestoneInput
		today    int
		want     []Event // what Screen records after the step
	}{
		{name: "off: nothing", settings: settings(), in: sameBoth},
		{name: "flag: same ip", settings: settings(withReview(ReviewFlag, nil)), in: sameIP, want: []Event{flaggedNow(false, ReasonSameIP)}},
		{name: "hold: same ip and device", settings: settings(withReview(ReviewHold, nil)), in: sameBoth,
			want: []Event{flaggedNow(true, ReasonSameIP, ReasonSameDevice)}},
		{name: "rules off", settings: settings(withReview(ReviewHold, nil), func(s *Settings) { s.FraudSameIP, s.FraudSameDevice = ptr(false), ptr(false) }),
			in: sameBoth},
		{name: "different ip and device", settings: settings(withReview(ReviewFlag, nil)),
			in: MilestoneInput{Milestone: "signed_up", ReferredUserID: testReferee, ReferredIP: "198.51.100.1", ReferredDeviceID: "dev-9"}},
		{name: "no attribution, no completion: not checked", history: []Event{attributed}, settings: settings(withReview(ReviewFlag, nil)),
			in: MilestoneInput{Milestone: "signed_up", ReferredIP: "203.0.113.7"}},
		{name: "velocity at the limit", settings: settings(withReview(ReviewFlag, ptr(3))), in: complete, today: 3},
		{name: "velocity beyond the limit", settings: settings(withReview(ReviewFlag, ptr(3))), in: complete, today: 4,
			want: []Event{flaggedNow(false, ReasonVelocity)}},
		{name: "open review adds only new reasons", history: []Event{attributed, flagged(false, ReasonSameIP)},
			settings: settings(withReview(ReviewFlag, ptr(1))), in: MilestoneInput{Milestone: "completed", ReferredIP: "203.0.113.7"}, today: 2,
			want: []Event{flaggedNow(false, ReasonVelocity)}},
		{name: "resolved review stays resolved", history: []Event{attributed, flagged(false, ReasonSameIP), resolved(DecisionApproved, "", t1)},
			settings: settings(withReview(ReviewFlag, ptr(1))), in: MilestoneInput{Milestone: "completed", ReferredIP: "203.0.113.7"}, today: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := loadReferral(t, c, tt.history...)
			if err := r.ReachMilestone(now, tt.in, tt.settings, 1); err != nil {
				t.Fatalf("ReachMilestone: %v", err)
			}
			step := len(r.Changes())
			r.Screen(now, tt.in, tt.settings, tt.today)
			got := r.Changes()[step:]
			if len(got) == 0 {
				got = nil
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("flags (-got +want):\n%s", diff)
			}
		})
	}
}

func flaggedNow(hold bool, reasons ...string) *ReferralFlagged {
	return &ReferralFlagged{Reasons: reasons, HoldsRewards: hold, FlaggedAt: now}
}

// A completion under reward_hold_days stamps the hold's end; a later
// settings change does not move it.
func TestCompletionStampsTheHold(t *testing.T) {
	t.Parallel()
	r := loadReferral(t, created())
	st := settings(withRewards, func(s *Settings) { s.RewardHoldDays = 14 })
	if err := r.Complete(now, MilestoneInput{ReferredUserID: testReferee}, st, 2); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	want := now.AddDate(0, 0, 14)
	if got := r.View().RewardAvailableAt; got == nil || !got.Equal(want) {
		t.Fatalf("reward_available_at = %v, want %v", got, want)
	}
	if _, err := r.ClaimReward(want.Add(-time.Millisecond), SideReferrer); ErrorCode(err) != ERewardOnHold {
		t.Errorf("claim before the end: %v, want %s", err, ERewardOnHold)
	}
	// The stamp came from the event, so replaying it under other settings changes nothing.
	again := loadReferral(t, created(), r.Changes()...)
	if diff := cmp.Diff(again.View(), r.View()); diff != "" {
		t.Errorf("replayed view (-got +want):\n%s", diff)
	}
}

// RewardStatus follows a reward through its lifecycle.
func TestRewardStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		history []Event
		at      time.Time
		want    string
	}{
		{name: "pending", at: now, want: RewardStatusNone},
		{name: "no reward for the side", history: completedHistory(nil, ptr("credit")), at: now, want: RewardStatusNone},
		{name: "available", history: completedHistory(ptr("points"), nil), at: now, want: RewardStatusAvailable},
		{name: "held by the period", history: heldHistory(), at: holdEnd.Add(-time.Millisecond), want: RewardStatusHeld},
		{name: "available at the period's end", history: heldHistory(), at: holdEnd, want: RewardStatusAvailable},
		{name: "held by a hold-mode review", history: completedHistory(ptr("points"), nil, flagged(true, ReasonVelocity)), at: now, want: RewardStatusHeld},
		{name: "not held by a flag-mode review", history: completedHistory(ptr("points"), nil, flagged(false, ReasonVelocity)), at: now, want: RewardStatusAvailable},
		{name: "claimed", history: completedHistory(ptr("points"), nil, &RewardClaimed{Side: SideReferrer, ClaimedAt: t1}), at: now, want: RewardStatusClaimed},
		{name: "reversed", history: completedHistory(ptr("points"), nil, reversed(SideReferrer, "x", false, t1)), at: now, want: RewardStatusReversed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := loadReferral(t, created(), tt.history...).View().RewardStatus(SideReferrer, tt.at); got != tt.want {
				t.Errorf("RewardStatus = %q, want %q", got, tt.want)
			}
		})
	}
}

// The referrer's stream counts completions per UTC day; a count event
// keeps what a create needs, and a code already counted is not counted
// twice.
func TestReferrerCountsCompletions(t *testing.T) {
	t.Parallel()
	issued := &ReferrerCodeIssued{ReferralCode: testCode, Issued: 1, Created: *created()}
	rec := issuedRecord(t, issued, 1)
	ref, err := LoadReferrer(testAppspace, testReferrer, []RecordedEvent{rec})
	if err != nil {
		t.Fatal(err)
	}
	if got := ref.countCompletion(testCode, now); got != 1 {
		t.Errorf("first completion of the day = %d, want 1", got)
	}
	counted := ref.Changes()[0].(*ReferrerCompletionCounted)
	want := &ReferrerCompletionCounted{ReferralCode: testCode, Day: "2026-01-10", DayCompletions: 1, LastIssued: issued, LastIssuedID: rec.ID}
	if diff := cmp.Diff(counted, want); diff != "" {
		t.Errorf("count event (-got +want):\n%s", diff)
	}
	// Reloaded from the count alone: same last code, and the code is not counted again.
	data, _ := json.Marshal(counted)
	again, err := LoadReferrer(testAppspace, testReferrer, []RecordedEvent{{Type: TypeReferrerCompletionCounted, Data: data, Version: 2, ID: NewID()}})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := again.LastCode(); code != testCode || again.lastID != rec.ID {
		t.Errorf("last code = %q (id %s), want %q (id %s)", code, again.lastID, testCode, rec.ID)
	}
	if got := again.countCompletion(testCode, now); got != 1 || len(again.Changes()) != 0 {
		t.Errorf("recount = %d with %d changes, want 1 and none", got, len(again.Changes()))
	}
	if got := again.countCompletion("OTHER00001", now.Add(time.Hour)); got != 2 {
		t.Errorf("second completion that day = %d, want 2", got)
	}
	if got := again.countCompletion("OTHER00002", time.Date(2026, 1, 11, 0, 0, 0, 0, time.UTC)); got != 1 {
		t.Errorf("first completion of the next day = %d, want 1", got)
	}
}

// The lifecycle settings validate, and show their zero values as defaults.
func TestLifecycleSettings(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		change func(*Settings)
		ok     bool
	}{
		{"hold 0", func(s *Settings) { s.RewardHoldDays = 0 }, true},
		{"hold 30", func(s *Settings) { s.RewardHoldDays = 30 }, true},
		{"hold negative", func(s *Settings) { s.RewardHoldDays = -1 }, false},
		{"hold too long", func(s *Settings) { s.RewardHoldDays = 3651 }, false},
		{"mode hold", func(s *Settings) { s.ReviewMode = ReviewHold }, true},
		{"mode bogus", func(s *Settings) { s.ReviewMode = "strict" }, false},
		{"max daily 1", func(s *Settings) { s.FraudMaxDailyCompletions = ptr(1) }, true},
		{"max daily 0", func(s *Settings) { s.FraudMaxDailyCompletions = ptr(0) }, false},
	} {
		if err := settings(tt.change).Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
	shown := DefaultSettings().Shown()
	if shown.ReviewMode != ReviewOff || shown.FraudSameIP == nil || !*shown.FraudSameIP || shown.FraudSameDevice == nil || !*shown.FraudSameDevice {
		t.Errorf("Shown() = %+v, want review_mode off and both rules true", shown)
	}
	if diff := cmp.Diff(shown.canonical(), DefaultSettings()); diff != "" {
		t.Errorf("canonical(Shown()) (-got +want):\n%s", diff)
	}
}
