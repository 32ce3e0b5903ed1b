package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	testAppspace = "app_test"
	testCode     = "ABC1234567"
	testReferrer = "user_referrer"
	testReferee  = "user_referee"
)

var (
	t0      = time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC) // created
	t1      = t0.Add(time.Hour)                            // earlier history
	now     = t0.Add(2 * time.Hour)                        // the command
	expires = t0.AddDate(0, 0, 30)
)

func ptr[T any](v T) *T { return &v }

// created returns the event that starts the test referral: pending, expiring
// 30 days after t0.
func created() *ReferralCreated {
	return &ReferralCreated{
		ReferralID:   "11111111-2222-4333-8444-555555555555",
		ReferralCode: testCode,
		ReferrerID:   testReferrer,
		ReferrerName: ptr("Ref Errer"),
		ReferralURL:  ptr("https://example.com/ref/" + testCode),
		Metadata:     json.RawMessage(`{"campaign":"spring"}`),
		CreatedAt:    t0,
		ExpiresAt:    ptr(expires),
	}
}

// loadReferral rebuilds a referral the way the service does: from c and
// history, JSON-encoded into RecordedEvents, through LoadReferral.
func loadReferral(tb testing.TB, c *ReferralCreated, history ...Event) *Referral {
	tb.Helper()
	evs := append([]Event{c}, history...)
	recs := make([]RecordedEvent, len(evs))
	for i, e := range evs {
		data, err := json.Marshal(e)
		if err != nil {
			tb.Fatalf("marshal %s: %v", e.EventType(), err)
		}
		recs[i] = RecordedEvent{
			Position: Position(i + 1), Stream: ReferralStream(testAppspace, c.ReferralCode),
			Version: Revision(i + 1), ID: NewID(), Type: e.EventType(), Data: data, RecordedAt: t0,
		}
	}
	r, err := LoadReferral(testAppspace, recs)
	if err != nil {
		tb.Fatalf("LoadReferral: %v", err)
	}
	return r
}

// completedHistory is what completing the test referral at t1 with the given
// reward types records, followed by extra.
func completedHistory(rewardType, refereeRewardType *string, extra ...Event) []Event {
	c := &ReferralCompleted{
		Milestone: "completed", ReferredUserID: ptr(testReferee),
		RewardType: rewardType, RefereeRewardType: refereeRewardType,
		SettingsVersion: 3, CompletedAt: t1,
	}
	if rewardType != nil {
		c.RewardValue = ptr("500")
	}
	if refereeRewardType != nil {
		c.RefereeRewardValue = ptr("$5")
	}
	return append([]Event{
		&RefereeAttributed{ReferredUserID: testReferee, AttributedAt: t1},
		&MilestoneReached{Milestone: "completed", ReachedAt: t1},
		c,
	}, extra...)
}

// settings returns the default settings changed by mods.
func settings(mods ...func(*Settings)) Settings {
	s := DefaultSettings()
	for _, m := range mods {
		m(&s)
	}
	return s
}

func withPipeline(ms ...string) func(*Settings) {
	return func(s *Settings) { s.ReferralMilestones = ms }
}

func withRewards(s *Settings) {
	s.RewardType, s.RewardValue = ptr("points"), ptr("500")
	s.RefereeRewardType, s.RefereeRewardValue = ptr("credit"), ptr("$5")
}

// checkResult compares a command's error code and recorded changes.
func checkResult(tb testing.TB, r *Referral, err error, wantCode string, wantChanges []Event) {
	tb.Helper()
	if wantCode == "" {
		if err != nil {
			tb.Errorf("error = %v, want nil", err)
		}
	} else if got := ErrorCode(err); got != wantCode {
		tb.Errorf("error code = %q (%v), want %q", got, err, wantCode)
	}
	if diff := cmp.Diff(r.Changes(), wantChanges); diff != "" {
		tb.Errorf("changes mismatch (-got +want):\n%s", diff)
	}
}

var pipeline = withPipeline("signed_up", "installed", "purchased", "completed")

func TestReachMilestone(t *testing.T) {
	t.Parallel()
	completing := func(user *string, ms ...Event) []Event {
		return append(ms, &ReferralCompleted{
			Milestone: "completed", ReferredUserID: user,
			RewardType: ptr("points"), RewardValue: ptr("500"),
			RefereeRewardType: ptr("credit"), RefereeRewardValue: ptr("$5"),
			SettingsVersion: 7, CompletedAt: now,
		})
	}
	reached := func(m string) *MilestoneReached { return &MilestoneReached{Milestone: m, ReachedAt: now} }
	attributed := &RefereeAttributed{ReferredUserID: testReferee, ReferredUserName: ptr("Referee"), AttributedAt: now}
	tests := []struct {
		name        string
		history     []Event
		now         time.Time
		settings    Settings
		in          MilestoneInput
		wantCode    string
		wantChanges []Event
		wantStatus  Status
	}{
		{name: "no pipeline accepts any name", settings: settings(),
			in: MilestoneInput{Milestone: "watched_video"}, wantChanges: []Event{reached("watched_video")}},
		{name: "no pipeline has no order", history: []Event{&MilestoneReached{Milestone: "zzz", ReachedAt: t1}}, settings: settings(),
			in: MilestoneInput{Milestone: "aaa"}, wantChanges: []Event{reached("aaa")}},
		{name: "repeating the current milestone records nothing", history: []Event{&MilestoneReached{Milestone: "signed_up", ReachedAt: t1}},
			settings: settings(pipeline), in: MilestoneInput{Milestone: "signed_up"}},
		{name: "repeating the current milestone with a first referee attributes only",
			history: []Event{&MilestoneReached{Milestone: "signed_up", ReachedAt: t1}}, settings: settings(pipeline),
			in:          MilestoneInput{Milestone: "signed_up", ReferredUserID: testReferee, ReferredUserName: ptr("Referee")},
			wantChanges: []Event{attributed}},
		{name: "first referee is attributed", settings: settings(),
			in:          MilestoneInput{Milestone: "signed_up", ReferredUserID: testReferee, ReferredUserName: ptr("Referee")},
			wantChanges: []Event{attributed, reached("signed_up")}},
		{name: "same referee again is not attributed twice",
			history: []Event{&RefereeAttributed{ReferredUserID: testReferee, AttributedAt: t1}}, settings: settings(),
			in: MilestoneInput{Milestone: "signed_up", ReferredUserID: testReferee}, wantChanges: []Event{reached("signed_up")}},
		{name: "no referee given keeps the attributed one",
			history: []Event{&RefereeAttributed{ReferredUserID: testReferee, AttributedAt: t1}}, settings: settings(),
			in: MilestoneInput{Milestone: "signed_up"}, wantChanges: []Event{reached("signed_up")}},
		{name: "a different referee is a mismatch",
			history: []Event{&RefereeAttributed{ReferredUserID: testReferee, AttributedAt: t1}}, settings: settings(),
			in: MilestoneInput{Milestone: "signed_up", ReferredUserID: "user_other"}, wantCode: ERefereeMismatch},
		{name: "reward milestone completes with the given settings' terms", settings: settings(withRewards),
			in:          MilestoneInput{Milestone: "completed", ReferredUserID: testReferee, ReferredUserName: ptr("Referee")},
			wantChanges: completing(ptr(testReferee), attributed, reached("completed")), wantStatus: StatusCompleted},
		{name: "reward milestone completes without a referee", settings: settings(withRewards),
			in: MilestoneInput{Milestone: "completed"}, wantChanges: completing(nil, reached("completed")), wantStatus: StatusCompleted},
		{name: "reward milestone completes in a pipeline", history: []Event{&MilestoneReached{Milestone: "installed", ReachedAt: t1}},
			settings: settings(pipeline, withRewards), in: MilestoneInput{Milestone: "completed"},
			wantChanges: completing(nil, reached("completed")), wantStatus: StatusCompleted},
		{name: "completion stamps no terms when none are set", settings: settings(),
			in: MilestoneInput{Milestone: "completed"}, wantStatus: StatusCompleted, wantChanges: []Event{
				reached("completed"), &ReferralCompleted{Milestone: "completed", SettingsVersion: 7, CompletedAt: now}}},
		{name: "a custom reward milestone moves the completion",
			settings: settings(func(s *Settings) { s.ReferralRewardMilestone = "purchased" }),
			in:       MilestoneInput{Milestone: "completed"}, wantChanges: []Event{reached("completed")}},
		{name: "pipeline rejects an unknown name", settings: settings(pipeline),
			in: MilestoneInput{Milestone: "watched_video", ReferredUserID: testReferee}, wantCode: EUnknownMilestone},
		{name: "pipeline rejects going back", history: []Event{&MilestoneReached{Milestone: "purchased", ReachedAt: t1}},
			settings: settings(pipeline), in: MilestoneInput{Milestone: "installed"}, wantCode: EMilestoneOutOfOrder},
		{name: "pipeline allows skipping ahead", history: []Event{&MilestoneReached{Milestone: "signed_up", ReachedAt: t1}},
			settings: settings(pipeline), in: MilestoneInput{Milestone: "purchased"}, wantChanges: []Event{reached("purchased")}},
		{name: "pipeline allows starting anywhere", settings: settings(pipeline),
			in: MilestoneInput{Milestone: "installed"}, wantChanges: []Event{reached("installed")}},
		{name: "self referral", settings: settings(),
			in: MilestoneInput{Milestone: "signed_up", ReferredUserID: testReferrer}, wantCode: ESelfReferral},
		{name: "empty milestone", settings: settings(), in: MilestoneInput{}, wantCode: EInvalid},
		{name: "milestone with surrounding spaces", settings: settings(), in: MilestoneInput{Milestone: " signed_up"}, wantCode: EInvalid},
		{name: "milestone too long", settings: settings(), in: MilestoneInput{Milestone: strings.Repeat("m", 129)}, wantCode: EInvalid},
		{name: "milestone of the maximum length", settings: settings(),
			in: MilestoneInput{Milestone: strings.Repeat("m", 128)}, wantChanges: []Event{reached(strings.Repeat("m", 128))}},
		{name: "referee with surrounding spaces", settings: settings(),
			in: MilestoneInput{Milestone: "signed_up", ReferredUserID: "user_x "}, wantCode: EInvalid},
		{name: "completed: exact repeat is a no-op", history: completedHistory(nil, nil), settings: settings(),
			in: MilestoneInput{Milestone: "completed", ReferredUserID: testReferee}, wantStatus: StatusCompleted},
		{name: "completed: repeat without referee is a no-op", history: completedHistory(nil, nil), settings: settings(),
			in: MilestoneInput{Milestone: "completed"}, wantStatus: StatusCompleted},
		{name: "completed: another milestone", history: completedHistory(nil, nil), settings: settings(),
			in: MilestoneInput{Milestone: "purchased"}, wantCode: EReferralNotPending, wantStatus: StatusCompleted},
		{name: "completed: another referee", history: completedHistory(nil, nil), settings: settings(),
			in: MilestoneInput{Milestone: "completed", ReferredUserID: "user_other"}, wantCode: EReferralNotPending, wantStatus: StatusCompleted},
		{name: "completed: self referral", history: completedHistory(nil, nil), settings: settings(),
			in: MilestoneInput{Milestone: "completed", ReferredUserID: testReferrer}, wantCode: ESelfReferral, wantStatus: StatusCompleted},
		{name: "expired", history: []Event{&ReferralExpired{ExpiredAt: expires}}, now: expires.Add(time.Hour), settings: settings(),
			in: MilestoneInput{Milestone: "signed_up"}, wantCode: EReferralExpired, wantStatus: StatusExpired},
		{name: "expired: even the reward milestone", history: []Event{&ReferralExpired{ExpiredAt: expires}}, now: expires.Add(time.Hour),
			settings: settings(), in: MilestoneInput{Milestone: "completed"}, wantCode: EReferralExpired, wantStatus: StatusExpired},
		{name: "pending past expires_at expires first", now: expires.Add(48 * time.Hour), settings: settings(),
			in: MilestoneInput{Milestone: "completed", ReferredUserID: testReferee}, wantCode: EReferralExpired,
			wantChanges: []Event{&ReferralExpired{ExpiredAt: expires}}, wantStatus: StatusExpired},
		{name: "pending at exactly expires_at expires", now: expires, settings: settings(),
			in: MilestoneInput{Milestone: "signed_up"}, wantCode: EReferralExpired,
			wantChanges: []Event{&ReferralExpired{ExpiredAt: expires}}, wantStatus: StatusExpired},
		{name: "pending just before expires_at", now: expires.Add(-time.Millisecond), settings: settings(),
			in:          MilestoneInput{Milestone: "signed_up"},
			wantChanges: []Event{&MilestoneReached{Milestone: "signed_up", ReachedAt: expires.Add(-time.Millisecond)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := loadReferral(t, created(), tt.history...)
			at := tt.now
			if at.IsZero() {
				at = now
			}
			err := r.ReachMilestone(at, tt.in, tt.settings, 7)
			checkResult(t, r, err, tt.wantCode, tt.wantChanges)
			want := tt.wantStatus
			if want == "" {
				want = StatusPending
			}
			if got := r.View().Status; got != want {
				t.Errorf("status = %q, want %q", got, want)
			}
		})
	}
}

func TestReachMilestoneCompletionUpdatesView(t *testing.T) {
	t.Parallel()
	r := loadReferral(t, created())
	in := MilestoneInput{Milestone: "completed", ReferredUserID: testReferee, ReferredUserName: ptr("Referee")}
	if err := r.ReachMilestone(now, in, settings(withRewards), 7); err != nil {
		t.Fatalf("ReachMilestone: %v", err)
	}
	want := ReferralView{
		AppspaceID: testAppspace, ReferralID: created().ReferralID, ReferralCode: testCode,
		ReferralURL: ptr("https://example.com/ref/" + testCode), ReferrerID: testReferrer, ReferrerName: ptr("Ref Errer"),
		ReferredUserID: ptr(testReferee), ReferredUserName: ptr("Referee"),
		Status: StatusCompleted, Milestone: ptr("completed"),
		MilestoneHistory: []MilestoneEntry{{Milestone: "completed", Timestamp: now}},
		RewardType:       ptr("points"), RewardValue: ptr("500"),
		RefereeRewardType: ptr("credit"), RefereeRewardValue: ptr("$5"),
		CreatedAt: t0, ExpiresAt: ptr(expires), CompletedAt: ptr(now),
		Metadata: json.RawMessage(`{"campaign":"spring"}`), Version: 4,
	}
	if diff := cmp.Diff(r.View(), want); diff != "" {
		t.Errorf("view mismatch (-got +want):\n%s", diff)
	}
	// Repeating the command is a no-op, later settings notwithstanding.
	if err := r.ReachMilestone(now.Add(time.Hour), in, settings(), 8); err != nil {
		t.Errorf("repeat: error = %v, want nil", err)
	}
	if got, want := len(r.Changes()), 3; got != want {
		t.Errorf("changes after repeat = %d, want %d", got, want)
	}
}

func TestComplete(t *testing.T) {
	t.Parallel()
	completedAs := func(m string, user *string) *ReferralCompleted {
		return &ReferralCompleted{Milestone: m, ReferredUserID: user, RewardType: ptr("points"), RewardValue: ptr("500"),
			RefereeRewardType: ptr("credit"), RefereeRewardValue: ptr("$5"), SettingsVersion: 7, CompletedAt: now}
	}
	reached := func(m string) *MilestoneReached { return &MilestoneReached{Milestone: m, ReachedAt: now} }
	attributedEarlier := &RefereeAttributed{ReferredUserID: testReferee, AttributedAt: t1}
	tests := []struct {
		name        string
		history     []Event
		now         time.Time
		settings    Settings
		in          MilestoneInput
		wantCode    string
		wantChanges []Event
		wantStatus  Status
	}{
		{name: "needs a referred user", settings: settings(withRewards), in: MilestoneInput{}, wantCode: EInvalid, wantStatus: StatusPending},
		{name: "needs a referred user even with a milestone", settings: settings(withRewards),
			in: MilestoneInput{Milestone: "completed"}, wantCode: EInvalid, wantStatus: StatusPending},
		{name: "referred user given", settings: settings(withRewards),
			in: MilestoneInput{ReferredUserID: testReferee, ReferredUserName: ptr("Referee")}, wantStatus: StatusCompleted,
			wantChanges: []Event{
				&RefereeAttributed{ReferredUserID: testReferee, ReferredUserName: ptr("Referee"), AttributedAt: now},
				reached("completed"), completedAs("completed", ptr(testReferee))}},
		{name: "referred user already set", history: []Event{attributedEarlier}, settings: settings(withRewards),
			in: MilestoneInput{}, wantStatus: StatusCompleted,
			wantChanges: []Event{reached("completed"), completedAs("completed", ptr(testReferee))}},
		{name: "default milestone is the reward milestone", history: []Event{attributedEarlier},
			settings: settings(withRewards, func(s *Settings) { s.ReferralRewardMilestone = "purchased" }),
			in:       MilestoneInput{}, wantStatus: StatusCompleted,
			wantChanges: []Event{reached("purchased"), completedAs("purchased", ptr(testReferee))}},
		{name: "explicit milestone", history: []Event{attributedEarlier}, settings: settings(withRewards),
			in: MilestoneInput{Milestone: "signed_up"}, wantStatus: StatusCompleted,
			wantChanges: []Event{reached("signed_up"), completedAs("signed_up", ptr(testReferee))}},
		{name: "current milestone is not recorded again",
			history:  []Event{attributedEarlier, &MilestoneReached{Milestone: "completed", ReachedAt: t1}},
			settings: settings(withRewards, func(s *Settings) { s.ReferralRewardMilestone = "purchased" }),
			in:       MilestoneInput{Milestone: "completed"}, wantStatus: StatusCompleted,
			wantChanges: []Event{completedAs("completed", ptr(testReferee))}},
		{name: "pipeline: unknown milestone", history: []Event{attributedEarlier}, settings: settings(pipeline),
			in: MilestoneInput{Milestone: "watched_video"}, wantCode: EUnknownMilestone, wantStatus: StatusPending},
		{name: "pipeline: going back", settings: settings(pipeline),
			history: []Event{attributedEarlier, &MilestoneReached{Milestone: "purchased", ReachedAt: t1}},
			in:      MilestoneInput{Milestone: "signed_up"}, wantCode: EMilestoneOutOfOrder, wantStatus: StatusPending},
		{name: "self referral", settings: settings(), in: MilestoneInput{ReferredUserID: testReferrer},
			wantCode: ESelfReferral, wantStatus: StatusPending},
		{name: "referee mismatch", history: []Event{attributedEarlier}, settings: settings(),
			in: MilestoneInput{ReferredUserID: "user_other"}, wantCode: ERefereeMismatch, wantStatus: StatusPending},
		{name: "invalid milestone", history: []Event{attributedEarlier}, settings: settings(),
			in: MilestoneInput{Milestone: "  "}, wantCode: EInvalid, wantStatus: StatusPending},
		{name: "completed: exact repeat is a no-op", history: completedHistory(nil, nil), settings: settings(withRewards),
			in: MilestoneInput{ReferredUserID: testReferee}, wantStatus: StatusCompleted},
		{name: "completed: bare repeat is a no-op", history: completedHistory(nil, nil), settings: settings(withRewards),
			in: MilestoneInput{}, wantStatus: StatusCompleted},
		{name: "completed: repeat naming the milestone is a no-op", history: completedHistory(nil, nil), settings: settings(withRewards),
			in: MilestoneInput{Milestone: "completed", ReferredUserID: testReferee}, wantStatus: StatusCompleted},
		{name: "completed: another milestone", history: completedHistory(nil, nil), settings: settings(),
			in: MilestoneInput{Milestone: "purchased"}, wantCode: EReferralNotPending, wantStatus: StatusCompleted},
		{name: "completed: another referee", history: completedHistory(nil, nil), settings: settings(),
			in: MilestoneInput{ReferredUserID: "user_other"}, wantCode: EReferralNotPending, wantStatus: StatusCompleted},
		{name: "expired", history: []Event{&ReferralExpired{ExpiredAt: expires}}, now: expires.Add(time.Hour), settings: settings(),
			in: MilestoneInput{ReferredUserID: testReferee}, wantCode: EReferralExpired, wantStatus: StatusExpired},
		{name: "pending past expires_at expires first", now: expires.Add(time.Hour), settings: settings(),
			in: MilestoneInput{ReferredUserID: testReferee}, wantCode: EReferralExpired, wantStatus: StatusExpired,
			wantChanges: []Event{&ReferralExpired{ExpiredAt: expires}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := loadReferral(t, created(), tt.history...)
			at := tt.now
			if at.IsZero() {
				at = now
			}
			err := r.Complete(at, tt.in, tt.settings, 7)
			checkResult(t, r, err, tt.wantCode, tt.wantChanges)
			if got := r.View().Status; got != tt.wantStatus {
				t.Errorf("status = %q, want %q", got, tt.wantStatus)
			}
		})
	}
}

func TestClaimReward(t *testing.T) {
	t.Parallel()
	claimed := func(side string, at time.Time) *RewardClaimed { return &RewardClaimed{Side: side, ClaimedAt: at} }
	both := func(extra ...Event) []Event { return completedHistory(ptr("points"), ptr("credit"), extra...) }
	tests := []struct {
		name        string
		history     []Event
		now         time.Time
		side        string
		wantAt      time.Time
		wantCode    string
		wantChanges []Event
	}{
		{name: "pending", side: SideReferrer, wantCode: EReferralNotCompleted},
		{name: "expired", history: []Event{&ReferralExpired{ExpiredAt: expires}}, now: expires.Add(time.Hour),
			side: SideReferrer, wantCode: EReferralNotCompleted},
		{name: "pending past expires_at expires first", now: expires.Add(time.Hour), side: SideReferee,
			wantCode: EReferralNotCompleted, wantChanges: []Event{&ReferralExpired{ExpiredAt: expires}}},
		{name: "referrer: first claim", history: both(), side: SideReferrer,
			wantAt: now, wantChanges: []Event{claimed(SideReferrer, now)}},
		{name: "referrer: second claim returns the first time", history: both(claimed(SideReferrer, t1)),
			side: SideReferrer, wantAt: t1},
		{name: "referrer: no reward type stamped", history: completedHistory(nil, ptr("credit")),
			side: SideReferrer, wantCode: ENoRewardConfigured},
		{name: "referee: first claim", history: both(), side: SideReferee,
			wantAt: now, wantChanges: []Event{claimed(SideReferee, now)}},
		{name: "referee: second claim returns the first time", history: both(claimed(SideReferee, t1)),
			side: SideReferee, wantAt: t1},
		{name: "referee: no reward type stamped", history: completedHistory(ptr("points"), nil),
			side: SideReferee, wantCode: ENoRewardConfigured},
		{name: "referee claim is independent of the referrer's", history: both(claimed(SideReferrer, t1)),
			side: SideReferee, wantAt: now, wantChanges: []Event{claimed(SideReferee, now)}},
		{name: "referrer claim is independent of the referee's", history: both(claimed(SideReferee, t1)),
			side: SideReferrer, wantAt: now, wantChanges: []Event{claimed(SideReferrer, now)}},
		{name: "completed referrals do not expire", history: both(), now: expires.Add(time.Hour),
			side: SideReferrer, wantAt: expires.Add(time.Hour), wantChanges: []Event{claimed(SideReferrer, expires.Add(time.Hour))}},
		{name: "bad side", history: both(), side: "both", wantCode: EInvalid},
		{name: "empty side", history: both(), side: "", wantCode: EInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := loadReferral(t, created(), tt.history...)
			at := tt.now
			if at.IsZero() {
				at = now
			}
			got, err := r.ClaimReward(at, tt.side)
			checkResult(t, r, err, tt.wantCode, tt.wantChanges)
			if !got.Equal(tt.wantAt) {
				t.Errorf("claimed at = %v, want %v", got, tt.wantAt)
			}
		})
	}
}

func TestClaimRewardTwice(t *testing.T) {
	t.Parallel()
	r := loadReferral(t, created(), completedHistory(ptr("points"), ptr("credit"))...)
	first, err := r.ClaimReward(now, SideReferrer)
	if err != nil {
		t.Fatalf("first claim: %v", err)
	}
	second, err := r.ClaimReward(now.Add(time.Hour), SideReferrer)
	if err != nil {
		t.Fatalf("second claim: %v", err)
	}
	if !second.Equal(first) {
		t.Errorf("second claim = %v, want %v", second, first)
	}
	if diff := cmp.Diff(r.Changes(), []Event{&RewardClaimed{Side: SideReferrer, ClaimedAt: now}}); diff != "" {
		t.Errorf("changes mismatch (-got +want):\n%s", diff)
	}
	v := r.View()
	if diff := cmp.Diff(v.RewardClaimedAt, ptr(now)); diff != "" {
		t.Errorf("RewardClaimedAt mismatch (-got +want):\n%s", diff)
	}
	if v.RefereeRewardClaimedAt != nil {
		t.Errorf("RefereeRewardClaimedAt = %v, want nil", *v.RefereeRewardClaimedAt)
	}
}

func TestChangesAndVersion(t *testing.T) {
	t.Parallel()
	empty, err := LoadReferral(testAppspace, nil)
	if err != nil {
		t.Fatalf("LoadReferral(nil): %v", err)
	}
	if empty.Exists() || empty.Version() != 0 {
		t.Errorf("empty referral: Exists() = %v, Version() = %d, want false, 0", empty.Exists(), empty.Version())
	}

	r := loadReferral(t, created(), &MilestoneReached{Milestone: "signed_up", ReachedAt: t1})
	if !r.Exists() {
		t.Errorf("Exists() = false, want true")
	}
	if got, want := r.Version(), Revision(2); got != want {
		t.Errorf("loaded Version() = %d, want %d", got, want)
	}
	if got := r.Changes(); len(got) != 0 {
		t.Errorf("loaded Changes() = %v, want none", got)
	}
	in := MilestoneInput{Milestone: "completed", ReferredUserID: testReferee}
	if err := r.ReachMilestone(now, in, settings(), 1); err != nil {
		t.Fatalf("ReachMilestone: %v", err)
	}
	if got, want := r.Version(), Revision(5); got != want {
		t.Errorf("Version() after 3 changes = %d, want %d", got, want)
	}
	if got, want := len(r.Changes()), 3; got != want {
		t.Errorf("len(Changes()) = %d, want %d", got, want)
	}
	if got, want := r.View().Version, r.Version(); got != want {
		t.Errorf("View().Version = %d, want %d", got, want)
	}
}

func TestViewIsACopy(t *testing.T) {
	t.Parallel()
	r := loadReferral(t, created(),
		&MilestoneReached{Milestone: "signed_up", ReachedAt: t1},
		&MilestoneReached{Milestone: "installed", ReachedAt: t1})
	want := []MilestoneEntry{{Milestone: "signed_up", Timestamp: t1}, {Milestone: "installed", Timestamp: t1}}

	v := r.View()
	v.MilestoneHistory[0].Milestone = "tampered"
	v.MilestoneHistory = append(v.MilestoneHistory[:1], MilestoneEntry{Milestone: "appended"})
	if diff := cmp.Diff(r.View().MilestoneHistory, want); diff != "" {
		t.Errorf("history changed through a view (-got +want):\n%s", diff)
	}

	// A view taken before a change does not see entries recorded after it.
	before := r.View()
	if err := r.ReachMilestone(now, MilestoneInput{Milestone: "purchased"}, settings(), 1); err != nil {
		t.Fatalf("ReachMilestone: %v", err)
	}
	if diff := cmp.Diff(before.MilestoneHistory, want); diff != "" {
		t.Errorf("earlier view changed (-got +want):\n%s", diff)
	}
	if got, want := len(r.View().MilestoneHistory), 3; got != want {
		t.Errorf("history length = %d, want %d", got, want)
	}
}

func TestExpireIfDue(t *testing.T) {
	t.Parallel()
	noExpiry := created()
	noExpiry.ExpiresAt = nil
	tests := []struct {
		name        string
		created     *ReferralCreated
		history     []Event
		now         time.Time
		wantChanges []Event
	}{
		{name: "before expiry", created: created(), now: expires.Add(-time.Nanosecond)},
		{name: "at expiry", created: created(), now: expires, wantChanges: []Event{&ReferralExpired{ExpiredAt: expires}}},
		{name: "dated at expiry, not when noticed", created: created(), now: expires.AddDate(1, 0, 0),
			wantChanges: []Event{&ReferralExpired{ExpiredAt: expires}}},
		{name: "no expiry", created: noExpiry, now: expires.AddDate(100, 0, 0)},
		{name: "completed", created: created(), history: completedHistory(nil, nil), now: expires.AddDate(1, 0, 0)},
		{name: "already expired", created: created(), history: []Event{&ReferralExpired{ExpiredAt: expires}}, now: expires.AddDate(1, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := loadReferral(t, tt.created, tt.history...)
			r.ExpireIfDue(tt.now)
			r.ExpireIfDue(tt.now) // twice: the second records nothing
			if diff := cmp.Diff(r.Changes(), tt.wantChanges); diff != "" {
				t.Errorf("changes mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestLoadReferralRejectsUnknownEvents(t *testing.T) {
	t.Parallel()
	_, err := LoadReferral(testAppspace, []RecordedEvent{{Version: 1, Type: "NoSuchEvent", Data: []byte(`{}`)}})
	if err == nil {
		t.Errorf("LoadReferral error = nil, want an error")
	}
	_, err = LoadReferral(testAppspace, []RecordedEvent{{Version: 1, Type: TypeReferralCreated, Data: []byte(`{"referral_code":`)}})
	if err == nil {
		t.Errorf("LoadReferral of bad JSON: error = nil, want an error")
	}
}

func TestErrorCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "domain error", err: Errorf(EReferralExpired, "gone"), want: EReferralExpired},
		{name: "wrapped", err: fmt.Errorf("command: %w", Errorf(ESelfReferral, "no")), want: ESelfReferral},
		{name: "other error", err: errors.New("disk on fire"), want: EInternal},
		{name: "concurrency sentinel", err: ErrConcurrency, want: EInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ErrorCode(tt.err); got != tt.want {
				t.Errorf("ErrorCode(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

// In a pipeline whose reward milestone is not the last, skipping ahead past
// it leaves the referral pending for good: the reward milestone is then
// "going back", and Complete's default milestone is rejected the same way.
func TestSkippingPastTheRewardMilestone(t *testing.T) {
	t.Parallel()
	s := settings(withPipeline("signed_up", "completed", "purchased"), withRewards)
	completedAt := func(m string) *ReferralCompleted {
		return &ReferralCompleted{Milestone: m, ReferredUserID: ptr(testReferee), RewardType: ptr("points"), RewardValue: ptr("500"),
			RefereeRewardType: ptr("credit"), RefereeRewardValue: ptr("$5"), SettingsVersion: 7, CompletedAt: now}
	}
	tests := []struct {
		name        string
		history     []Event
		command     func(r *Referral) error
		wantChanges []Event
	}{
		{name: "reaching a milestone after the reward milestone completes",
			history: []Event{&RefereeAttributed{ReferredUserID: testReferee, AttributedAt: t1}, &MilestoneReached{Milestone: "signed_up", ReachedAt: t1}},
			command: func(r *Referral) error {
				return r.ReachMilestone(now, MilestoneInput{Milestone: "purchased"}, s, 7)
			},
			wantChanges: []Event{&MilestoneReached{Milestone: "purchased", ReachedAt: now}, completedAt("purchased")}},
		{name: "completing by hand past the reward milestone",
			history: []Event{&RefereeAttributed{ReferredUserID: testReferee, AttributedAt: t1}, &MilestoneReached{Milestone: "purchased", ReachedAt: t1}},
			command: func(r *Referral) error {
				return r.Complete(now, MilestoneInput{}, s, 7)
			},
			wantChanges: []Event{completedAt("purchased")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := loadReferral(t, created(), tt.history...)
			err := tt.command(r)
			checkResult(t, r, err, "", tt.wantChanges)
			if got := r.View().Status; got != StatusCompleted {
				t.Errorf("status = %q, want %q", got, StatusCompleted)
			}
		})
	}
}

// A referral restored from its view and fed the rest of its stream ends
// where loading the whole stream ends; repeats are skipped, gaps refused.
func TestRestoreAndApplyRecorded(t *testing.T) {
	t.Parallel()
	s := settings(withRewards)
	r := loadReferral(t, created())
	if err := r.ReachMilestone(now, MilestoneInput{Milestone: "completed", ReferredUserID: testReferee}, s, 3); err != nil {
		t.Fatal(err)
	}
	var recs []RecordedEvent
	for i, e := range append([]Event{created()}, r.Changes()...) {
		data, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, RecordedEvent{Version: Revision(i + 1), Type: e.EventType(), Data: data})
	}
	whole, err := LoadReferral("as_test", recs)
	if err != nil {
		t.Fatal(err)
	}
	part, err := LoadReferral("as_test", recs[:1])
	if err != nil {
		t.Fatal(err)
	}
	restored := RestoreReferral(part.View())
	for _, rec := range recs { // the first is a repeat
		if _, err := restored.ApplyRecorded(rec); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(whole.View(), restored.View()); diff != "" {
		t.Errorf("restored referral differs from the loaded one (-loaded +restored):\n%s", diff)
	}
	if applied, err := restored.ApplyRecorded(recs[1]); applied || err != nil {
		t.Errorf("re-applying version 2: %v, %v; want false, nil", applied, err)
	}
	gap := recs[len(recs)-1]
	gap.Version += 2
	if _, err := restored.ApplyRecorded(gap); err == nil {
		t.Error("an event that skips versions was applied")
	}
}

// TestMilestonesPerReferralAreBounded: without a pipeline, alternating two
// milestone names recorded an event a call, without end. A referral records
// at most MaxReferralMilestones; past that a new milestone (and a
// completion that would record one) is a conflict that records nothing,
// while repeating the current milestone and completing at it still work.
func TestMilestonesPerReferralAreBounded(t *testing.T) {
	t.Parallel()
	history := func(n int) []Event {
		evs := make([]Event, n)
		for i := range evs {
			evs[i] = &MilestoneReached{Milestone: []string{"a", "b"}[i%2], ReachedAt: t1}
		}
		return evs
	}
	full := history(MaxReferralMilestones) // the current milestone is "b"
	tests := []struct {
		name     string
		history  []Event
		run      func(*Referral) error
		wantCode string
		changes  int
	}{
		{"one below the bound: recorded", history(MaxReferralMilestones - 1),
			func(r *Referral) error { return r.ReachMilestone(now, MilestoneInput{Milestone: "c"}, settings(), 7) }, "", 1},
		{"at the bound: a new one is refused", full,
			func(r *Referral) error { return r.ReachMilestone(now, MilestoneInput{Milestone: "a"}, settings(), 7) }, EConflict, 0},
		{"at the bound: the current one repeated is a no-op", full,
			func(r *Referral) error { return r.ReachMilestone(now, MilestoneInput{Milestone: "b"}, settings(), 7) }, "", 0},
		{"at the bound: reaching the reward milestone is refused", full,
			func(r *Referral) error {
				return r.ReachMilestone(now, MilestoneInput{Milestone: "completed", ReferredUserID: testReferee}, settings(), 7)
			}, EConflict, 0},
		{"at the bound: completing at the current milestone", full,
			func(r *Referral) error {
				return r.Complete(now, MilestoneInput{Milestone: "b", ReferredUserID: testReferee}, settings(), 7)
			}, "", 2},
		{"at the bound: completing at a new milestone is refused", full,
			func(r *Referral) error {
				return r.Complete(now, MilestoneInput{ReferredUserID: testReferee}, settings(), 7)
			}, EConflict, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := loadReferral(t, created(), tt.history...)
			err := tt.run(r)
			if got := ErrorCode(err); err != nil && got != tt.wantCode || err == nil && tt.wantCode != "" {
				t.Fatalf("error %v, want code %q", err, tt.wantCode)
			}
			if got := len(r.Changes()); got != tt.changes {
				t.Errorf("%d events recorded, want %d: %v", got, tt.changes, r.Changes())
			}
		})
	}
}
