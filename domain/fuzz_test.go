package domain_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

var fuzzTypes = []string{
	domain.TypeReferralCreated, domain.TypeMilestoneReached, domain.TypeRefereeAttributed,
	domain.TypeReferralCompleted, domain.TypeRewardClaimed, domain.TypeReferralExpired,
	domain.TypeSettingsChanged, domain.TypeReferrerCodeIssued, domain.TypeRefereeReserved,
	"Unknown",
}

// FuzzDecodeEvent decodes fuzzed stored events: decoding never panics, a
// decoded event encodes to data that decodes to the same event, and
// folding it into a referral stream never panics, whatever the log holds.
func FuzzDecodeEvent(f *testing.F) {
	for i, data := range []string{
		`{"referral_id":"r","referral_code":"ABC","referrer_id":"u","created_at":"2026-01-01T00:00:00Z","expires_at":"2026-02-01T00:00:00Z","metadata":{"a":1}}`,
		`{"milestone":"signed_up","reached_at":"2026-01-01T00:00:00Z"}`,
		`{"referred_user_id":"x\u0000y"}`,
		`{"completed_at":"2026-01-01T00:00:00Z","reward_type":"credit","reward_value":"$5","settings_version":3}`,
		`{"side":"referrer","claimed_at":"2026-01-01T00:00:00Z"}`,
		`{"expired_at":"0001-01-01T00:00:00Z"}`,
		`{"settings":{"referral_expiration_days":-1,"referral_milestones":null},"changed":["x"]}`,
		`{"code":"","count":18446744073709551615}`,
		`{"user_id":5}`,
		`null`,
	} {
		f.Add(uint8(i), []byte(data))
	}
	f.Fuzz(func(t *testing.T, typ uint8, data []byte) {
		name := fuzzTypes[int(typ)%len(fuzzTypes)]
		ev, err := domain.DecodeEvent(name, data)
		if err != nil {
			return
		}
		raw, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("%s %q decodes but does not encode: %v", name, data, err)
		}
		again, err := domain.DecodeEvent(name, raw)
		if err != nil {
			t.Fatalf("%s %q: its encoding %q does not decode: %v", name, data, raw, err)
		}
		if !reflect.DeepEqual(normalize(t, ev), normalize(t, again)) {
			t.Fatalf("%s %q: decode(encode(e)) = %#v, want %#v", name, data, again, ev)
		}
		created := domain.RecordedEvent{Stream: "a:referral:ABC", Version: 1, Type: domain.TypeReferralCreated, ID: "1",
			Data:       []byte(`{"referral_id":"r","referral_code":"ABC","referrer_id":"u","created_at":"2026-01-01T00:00:00Z"}`),
			RecordedAt: time.Unix(0, 0)}
		next := domain.RecordedEvent{Stream: "a:referral:ABC", Version: 2, Type: name, ID: "2", Data: data, RecordedAt: time.Unix(1, 0)}
		r, err := domain.LoadReferral("a", []domain.RecordedEvent{created, next})
		if err == nil {
			_ = r.View()
		}
	})
}

// normalize re-encodes an event so that values equal in JSON compare equal
// (a nil and an empty raw message, times in other zones).
func normalize(t *testing.T, e domain.Event) any {
	raw, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}
