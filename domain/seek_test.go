package domain_test

import (
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

func TestSeekBefore(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
	// A log with gaps in its positions: position -> recorded second.
	log := map[int64]int{2: 0, 3: 10, 7: 20, 8: 20, 12: 30}
	first := func(pos int64) (int64, time.Time, bool, error) {
		for p := pos; p <= 12; p++ {
			if s, ok := log[p]; ok {
				return p, at(s), true, nil
			}
		}
		return 0, time.Time{}, false, nil
	}
	for _, tc := range []struct {
		name   string
		lo, hi int64
		t      time.Time
		want   domain.Position
	}{
		{"empty log", 0, 0, at(5), 0},
		{"before every event", 2, 12, at(0), 0},
		{"after every event", 2, 12, at(31), 12},
		{"between two events", 2, 12, at(15), 3},
		{"at an event's time: that event is read after", 2, 12, at(20), 3},
		{"past a gap", 2, 12, at(25), 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lookup := first
			if tc.hi == 0 {
				lookup = func(int64) (int64, time.Time, bool, error) { return 0, time.Time{}, false, nil }
			}
			got, err := domain.SeekBefore(tc.lo, tc.hi, tc.t, lookup)
			if err != nil || got != tc.want {
				t.Errorf("got %d, %v, want %d", got, err, tc.want)
			}
		})
	}
}
