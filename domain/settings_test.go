package domain

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDefaultSettings(t *testing.T) {
	t.Parallel()
	want := Settings{
		ReferralsEnabled:        true,
		ReferralExpirationDays:  ptr(30),
		ReferralMilestones:      []string{},
		ReferralRewardMilestone: "completed",
	}
	if diff := cmp.Diff(DefaultSettings(), want); diff != "" {
		t.Errorf("DefaultSettings mismatch (-got +want):\n%s", diff)
	}
	if err := DefaultSettings().Validate(); err != nil {
		t.Errorf("DefaultSettings().Validate() = %v, want nil", err)
	}
}

func TestSettingsValidate(t *testing.T) {
	t.Parallel()
	manyMilestones := func(n int) []string {
		ms := make([]string, n)
		for i := range ms {
			ms[i] = "m" + strings.Repeat("x", i)
		}
		return ms
	}
	tests := []struct {
		name     string
		change   func(*Settings)
		wantCode string // "" for valid
	}{
		{name: "defaults", change: func(*Settings) {}},
		{name: "referrals disabled", change: func(s *Settings) { s.ReferralsEnabled = false }},
		{name: "everything set", change: func(s *Settings) {
			s.ReferralExpirationDays, s.ReferralMaxPerUser = ptr(365), ptr(10)
			s.ReferralMilestones, s.ReferralRewardMilestone = []string{"signed_up", "purchased"}, "purchased"
			withRewards(s)
			s.ReferralURLTemplate = ptr("https://example.com/ref/{code}?src=share")
		}},

		{name: "expiration null", change: func(s *Settings) { s.ReferralExpirationDays = nil }},
		{name: "expiration 1", change: func(s *Settings) { s.ReferralExpirationDays = ptr(1) }},
		{name: "expiration maximum", change: func(s *Settings) { s.ReferralExpirationDays = ptr(36500) }},
		{name: "expiration 0", change: func(s *Settings) { s.ReferralExpirationDays = ptr(0) }, wantCode: EInvalid},
		{name: "expiration negative", change: func(s *Settings) { s.ReferralExpirationDays = ptr(-1) }, wantCode: EInvalid},
		{name: "expiration too long", change: func(s *Settings) { s.ReferralExpirationDays = ptr(36501) }, wantCode: EInvalid},

		{name: "max per user 1", change: func(s *Settings) { s.ReferralMaxPerUser = ptr(1) }},
		{name: "max per user maximum", change: func(s *Settings) { s.ReferralMaxPerUser = ptr(1_000_000) }},
		{name: "max per user 0", change: func(s *Settings) { s.ReferralMaxPerUser = ptr(0) }, wantCode: EInvalid},
		{name: "max per user negative", change: func(s *Settings) { s.ReferralMaxPerUser = ptr(-5) }, wantCode: EInvalid},
		{name: "max per user too high", change: func(s *Settings) { s.ReferralMaxPerUser = ptr(1_000_001) }, wantCode: EInvalid},

		{name: "nil pipeline", change: func(s *Settings) { s.ReferralMilestones = nil }},
		{name: "50 milestones", change: func(s *Settings) {
			s.ReferralMilestones = manyMilestones(50)
			s.ReferralRewardMilestone = s.ReferralMilestones[49]
		}},
		{name: "51 milestones", change: func(s *Settings) {
			s.ReferralMilestones = manyMilestones(51)
			s.ReferralRewardMilestone = s.ReferralMilestones[0]
		}, wantCode: EInvalid},
		{name: "empty milestone", change: withPipeline("signed_up", "", "completed"), wantCode: EInvalid},
		{name: "milestone with spaces", change: withPipeline("signed_up ", "completed"), wantCode: EInvalid},
		{name: "milestone too long", change: withPipeline(strings.Repeat("m", 129), "completed"), wantCode: EInvalid},
		{name: "duplicate milestone", change: withPipeline("signed_up", "completed", "signed_up"), wantCode: EInvalid},

		{name: "empty reward milestone", change: func(s *Settings) { s.ReferralRewardMilestone = "" }, wantCode: EInvalid},
		{name: "reward milestone with spaces", change: func(s *Settings) { s.ReferralRewardMilestone = " completed" }, wantCode: EInvalid},
		{name: "any reward milestone without a pipeline", change: func(s *Settings) { s.ReferralRewardMilestone = "purchased" }},
		{name: "reward milestone in the pipeline", change: withPipeline("signed_up", "completed")},
		{name: "reward milestone not in the pipeline", change: withPipeline("signed_up", "purchased"), wantCode: EInvalid},

		{name: "reward types", change: func(s *Settings) {
			s.RewardType, s.RefereeRewardType = ptr("discount"), ptr("custom")
		}},
		{name: "reward type without value", change: func(s *Settings) { s.RewardType = ptr("credit") }},
		{name: "unknown reward type", change: func(s *Settings) { s.RewardType = ptr("cash") }, wantCode: EInvalid},
		{name: "empty reward type", change: func(s *Settings) { s.RewardType = ptr("") }, wantCode: EInvalid},
		{name: "reward value without type", change: func(s *Settings) { s.RewardValue = ptr("500") }, wantCode: EInvalid},
		{name: "reward value of 256", change: func(s *Settings) {
			s.RewardType, s.RewardValue = ptr("custom"), ptr(strings.Repeat("v", 256))
		}},
		{name: "reward value too long", change: func(s *Settings) {
			s.RewardType, s.RewardValue = ptr("custom"), ptr(strings.Repeat("v", 257))
		}, wantCode: EInvalid},
		{name: "unknown referee reward type", change: func(s *Settings) { s.RefereeRewardType = ptr("Points") }, wantCode: EInvalid},
		{name: "referee reward value without type", change: func(s *Settings) {
			s.RewardType = ptr("points")
			s.RefereeRewardValue = ptr("$5")
		}, wantCode: EInvalid},
		{name: "referee reward value too long", change: func(s *Settings) {
			s.RefereeRewardType, s.RefereeRewardValue = ptr("credit"), ptr(strings.Repeat("v", 257))
		}, wantCode: EInvalid},

		{name: "http template", change: func(s *Settings) { s.ReferralURLTemplate = ptr("http://example.com/r/{code}") }},
		{name: "code in the host", change: func(s *Settings) { s.ReferralURLTemplate = ptr("https://{code}.example.com/") }},
		{name: "template without code", change: func(s *Settings) { s.ReferralURLTemplate = ptr("https://example.com/ref/") }, wantCode: EInvalid},
		{name: "template with another placeholder", change: func(s *Settings) { s.ReferralURLTemplate = ptr("https://example.com/ref/{id}") }, wantCode: EInvalid},
		{name: "ftp template", change: func(s *Settings) { s.ReferralURLTemplate = ptr("ftp://example.com/{code}") }, wantCode: EInvalid},
		{name: "javascript template", change: func(s *Settings) { s.ReferralURLTemplate = ptr("javascript:alert('{code}')") }, wantCode: EInvalid},
		{name: "relative template", change: func(s *Settings) { s.ReferralURLTemplate = ptr("/ref/{code}") }, wantCode: EInvalid},
		{name: "template without host", change: func(s *Settings) { s.ReferralURLTemplate = ptr("https:///ref/{code}") }, wantCode: EInvalid},
		{name: "empty template", change: func(s *Settings) { s.ReferralURLTemplate = ptr("") }, wantCode: EInvalid},
		{name: "unparsable template", change: func(s *Settings) { s.ReferralURLTemplate = ptr("https://exa mple.com:x/{code}") }, wantCode: EInvalid},
		{name: "template too long", change: func(s *Settings) {
			s.ReferralURLTemplate = ptr("https://example.com/" + strings.Repeat("a", 2048) + "{code}")
		}, wantCode: EInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := settings(tt.change)
			err := s.Validate()
			if tt.wantCode == "" {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if got := ErrorCode(err); got != tt.wantCode {
				t.Errorf("Validate() code = %q (%v), want %q", got, err, tt.wantCode)
			}
		})
	}
}

func TestReferralURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		template *string
		want     *string
	}{
		{name: "no template", template: nil, want: nil},
		{name: "filled", template: ptr("https://example.com/ref/{code}"), want: ptr("https://example.com/ref/ABC1234567")},
		{name: "filled twice", template: ptr("https://{code}.example.com/{code}"), want: ptr("https://ABC1234567.example.com/ABC1234567")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := settings(func(s *Settings) { s.ReferralURLTemplate = tt.template })
			if diff := cmp.Diff(s.referralURL(testCode), tt.want); diff != "" {
				t.Errorf("referralURL mismatch (-got +want):\n%s", diff)
			}
		})
	}
}
