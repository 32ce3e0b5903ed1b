package domain

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	codePattern    = regexp.MustCompile(`^[A-Z0-9]{10}$`)
	uuidV7Pattern  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	uuidV8Pattern  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	prefixedIDForm = regexp.MustCompile(`^key_[a-z2-7]{20}$`)
)

func TestNewReferralCode(t *testing.T) {
	t.Parallel()
	const draws = 10_000
	seen := make(map[string]bool, draws)
	chars := make(map[rune]bool)
	for range draws {
		c := NewReferralCode()
		if !codePattern.MatchString(c) {
			t.Fatalf("NewReferralCode() = %q, want 10 characters A-Z0-9", c)
		}
		if seen[c] {
			t.Fatalf("NewReferralCode() returned %q twice in %d draws", c, draws)
		}
		seen[c] = true
		for _, r := range c {
			chars[r] = true
		}
	}
	// 100,000 characters drawn from 36: every one should appear.
	if got, want := len(chars), len(codeAlphabet); got != want {
		t.Errorf("distinct characters = %d, want %d", got, want)
	}
	if got, want := len(NewReferralCode()), CodeLength; got != want {
		t.Errorf("CodeLength mismatch: len = %d, want %d", got, want)
	}
}

func TestNewID(t *testing.T) {
	t.Parallel()
	seen := make(map[string]bool)
	for range 1000 {
		id := NewID()
		if !uuidV7Pattern.MatchString(id) {
			t.Fatalf("NewID() = %q, want a version 7 UUID", id)
		}
		if seen[id] {
			t.Fatalf("NewID() returned %q twice", id)
		}
		seen[id] = true
	}
}

// NewID is time-ordered across milliseconds, which keeps the stores'
// unique index on event IDs append-mostly.
func TestNewIDIsTimeOrdered(t *testing.T) {
	t.Parallel()
	a := NewID()
	time.Sleep(3 * time.Millisecond)
	if b := NewID(); b <= a {
		t.Errorf("NewID() = %q after %q, want it to sort later", b, a)
	}
}

func TestNewPrefixedID(t *testing.T) {
	t.Parallel()
	a, b := NewPrefixedID("key"), NewPrefixedID("key")
	for _, id := range []string{a, b} {
		if !prefixedIDForm.MatchString(id) {
			t.Errorf("NewPrefixedID(%q) = %q, want key_ and 20 base32 characters", "key", id)
		}
	}
	if a == b {
		t.Errorf("NewPrefixedID returned %q twice", a)
	}
}

func TestDerivedID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		parent, label string
		other         [2]string // a pair that must derive a different ID
	}{
		{name: "different label", parent: "p1", label: "created", other: [2]string{"p1", "expired"}},
		{name: "different parent", parent: "p1", label: "created", other: [2]string{"p2", "created"}},
		{name: "boundary moved", parent: "ab", label: "c", other: [2]string{"a", "bc"}},
		{name: "empty label", parent: "p1", label: "", other: [2]string{"p1", "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := DerivedID(tt.parent, tt.label)
			if again := DerivedID(tt.parent, tt.label); again != got {
				t.Errorf("DerivedID(%q, %q) = %q then %q, want the same", tt.parent, tt.label, got, again)
			}
			if !uuidV8Pattern.MatchString(got) {
				t.Errorf("DerivedID(%q, %q) = %q, want a version 8 UUID", tt.parent, tt.label, got)
			}
			if other := DerivedID(tt.other[0], tt.other[1]); other == got {
				t.Errorf("DerivedID(%q, %q) = %q, want it to differ from DerivedID(%q, %q)",
					tt.other[0], tt.other[1], other, tt.parent, tt.label)
			}
		})
	}
	// Pinned: an ID derived by a previous release must be derived again.
	if got, want := DerivedID("11111111-2222-4333-8444-555555555555", "created"), derivedCreatedID; got != want {
		t.Errorf("DerivedID pinned value = %q, want %q", got, want)
	}
}

func TestStreamNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		stream       string
		want         string
		wantCategory string
		wantKey      string
	}{
		{name: "referral", stream: ReferralStream("app_1", "ABC1234567"), want: "app_1:referral:ABC1234567", wantCategory: "referral", wantKey: "ABC1234567"},
		{name: "referrer", stream: ReferrerStream("app_1", "user_1"), want: "app_1:referrer:user_1", wantCategory: "referrer", wantKey: "user_1"},
		{name: "referee", stream: RefereeStream("app_1", "user_2"), want: "app_1:referee:user_2", wantCategory: "referee", wantKey: "user_2"},
		{name: "settings", stream: SettingsStream("app_1"), want: "app_1:settings", wantCategory: "settings"},
		{name: "key with colons", stream: ReferrerStream("app_1", "tenant:user:3"), want: "app_1:referrer:tenant:user:3", wantCategory: "referrer", wantKey: "tenant:user:3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.stream != tt.want {
				t.Errorf("stream = %q, want %q", tt.stream, tt.want)
			}
			if !strings.HasPrefix(tt.stream, StreamPrefix("app_1")) {
				t.Errorf("stream %q lacks prefix %q", tt.stream, StreamPrefix("app_1"))
			}
			if strings.HasPrefix(tt.stream, StreamPrefix("app_10")) || strings.HasPrefix(ReferralStream("app_10", "X"), StreamPrefix("app_1")) {
				t.Errorf("appspace prefixes overlap")
			}
			app, cat, key := ParseStream(tt.stream)
			if diff := cmp.Diff([]string{app, cat, key}, []string{"app_1", tt.wantCategory, tt.wantKey}); diff != "" {
				t.Errorf("ParseStream(%q) mismatch (-got +want):\n%s", tt.stream, diff)
			}
		})
	}
}

func TestDecodeEventRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 4, 8, 14, 30, 0, 123_000_000, time.UTC)
	c := created()
	c.IP, c.DeviceID = "203.0.113.9", "device-1"
	full := settings(pipeline, withRewards, func(s *Settings) {
		s.ReferralMaxPerUser = ptr(5)
		s.ReferralURLTemplate = ptr("https://example.com/ref/{code}")
	})
	tests := []struct {
		name  string
		event Event
		typ   string
	}{
		{name: "ReferralCreated", event: c, typ: TypeReferralCreated},
		{name: "ReferralCreated without expiry", event: &ReferralCreated{ReferralID: "id", ReferralCode: testCode, ReferrerID: "u", CreatedAt: at}, typ: TypeReferralCreated},
		{name: "MilestoneReached", event: &MilestoneReached{Milestone: "signed_up", ReachedAt: at}, typ: TypeMilestoneReached},
		{name: "RefereeAttributed", event: &RefereeAttributed{ReferredUserID: testReferee, ReferredUserName: ptr("R"), AttributedAt: at}, typ: TypeRefereeAttributed},
		{name: "ReferralCompleted", event: &ReferralCompleted{Milestone: "completed", ReferredUserID: ptr(testReferee),
			RewardType: ptr("points"), RewardValue: ptr("500"), RefereeRewardType: ptr("credit"), RefereeRewardValue: ptr("$5"),
			SettingsVersion: 42, CompletedAt: at}, typ: TypeReferralCompleted},
		{name: "ReferralCompleted without terms", event: &ReferralCompleted{Milestone: "completed", CompletedAt: at}, typ: TypeReferralCompleted},
		{name: "RewardClaimed", event: &RewardClaimed{Side: SideReferee, ClaimedAt: at}, typ: TypeRewardClaimed},
		{name: "ReferralExpired", event: &ReferralExpired{ExpiredAt: at}, typ: TypeReferralExpired},
		{name: "SettingsChanged", event: &SettingsChanged{Settings: full, Changed: []string{"reward_type", "reward_value"}, ChangedAt: at}, typ: TypeSettingsChanged},
		{name: "ReferrerCodeIssued", event: &ReferrerCodeIssued{ReferralCode: testCode, CompletedBefore: 2, Issued: 3, Created: *c}, typ: TypeReferrerCodeIssued},
		{name: "RefereeReserved", event: &RefereeReserved{ReferralCode: testCode, ReservedAt: at}, typ: TypeRefereeReserved},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.event.EventType(); got != tt.typ {
				t.Errorf("EventType() = %q, want %q", got, tt.typ)
			}
			data, err := json.Marshal(tt.event)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			got, err := DecodeEvent(tt.event.EventType(), data)
			if err != nil {
				t.Fatalf("DecodeEvent: %v", err)
			}
			if diff := cmp.Diff(got, tt.event); diff != "" {
				t.Errorf("round trip mismatch (-got +want):\n%s", diff)
			}
			if _, err := DecodeEvent(tt.typ, []byte(`{"truncated":`)); err == nil {
				t.Errorf("DecodeEvent(%q, bad JSON) error = nil, want an error", tt.typ)
			}
		})
	}
}

func TestDecodeEventUnknownType(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{"", "NoSuchEvent", "referral.created", "referralcreated"} {
		if e, err := DecodeEvent(typ, []byte(`{}`)); err == nil {
			t.Errorf("DecodeEvent(%q) = %#v, nil; want an error", typ, e)
		}
	}
}

// derivedCreatedID is DerivedID("11111111-2222-4333-8444-555555555555", "created"),
// computed outside Go: the first 16 bytes of SHA-256(parent + "\x00" + label)
// with the UUID version set to 8 and the RFC 4122 variant.
const derivedCreatedID = "6cf4acb8-abf1-817a-aef6-63052e435061"
