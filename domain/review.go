package domain

import (
	"slices"
	"time"
)

// Screen applies the fraud rules after a milestone or completion command,
// if that command attributed a referee or completed the referral: the
// referee's IP and device against the referrer's, and at completion the
// referrer's completions today (dayCompletions, this one included; 0 when
// not counted) against fraud_max_daily_completions. A rule that fires
// opens a review, or adds its reason to the open one; a resolved review
// stays resolved. With review_mode off it does nothing.
func (r *Referral) Screen(now time.Time, in MilestoneInput, s Settings, dayCompletions int) {
	if s.Mode() == ReviewOff || r.v.Status == StatusVoided {
		return
	}
	var attributed, completed bool
	for _, e := range r.changes {
		switch e.(type) {
		case *RefereeAttributed:
			attributed = true
		case *ReferralCompleted:
			completed = true
		}
	}
	if !attributed && !completed {
		return
	}
	var reasons []string
	if s.SameIPRule() && in.ReferredIP != "" && in.ReferredIP == r.v.ReferrerIP {
		reasons = append(reasons, ReasonSameIP)
	}
	if s.SameDeviceRule() && in.ReferredDeviceID != "" && in.ReferredDeviceID == r.v.ReferrerDeviceID {
		reasons = append(reasons, ReasonSameDevice)
	}
	if max := s.FraudMaxDailyCompletions; completed && max != nil && dayCompletions > *max {
		reasons = append(reasons, ReasonVelocity)
	}
	r.record(flagging(&r.v, now, reasons, s.Mode() == ReviewHold)...)
}

// flagging is the event that adds the reasons not yet on the review of a
// referral in state v, opening the review if needed; none when the review
// is resolved or every reason is on it.
func flagging(v *ReferralView, now time.Time, reasons []string, hold bool) []Event {
	if rv := v.Review; rv != nil {
		if rv.State != ReviewOpen {
			return nil
		}
		reasons = slices.DeleteFunc(reasons, func(x string) bool { return slices.Contains(rv.Reasons, x) })
	}
	if len(reasons) == 0 {
		return nil
	}
	return []Event{&ReferralFlagged{Reasons: reasons, HoldsRewards: hold, FlaggedAt: now}}
}

// completes reports whether changes complete the referral.
func completes(changes []Event) bool {
	return slices.ContainsFunc(changes, func(e Event) bool { _, ok := e.(*ReferralCompleted); return ok })
}

// countCompletion counts the completion of the referral code on the
// referrer's stream and returns the referrer's completions that UTC day,
// this one included. When the stream's last event already counts code, an
// earlier attempt appended it and died before the referral's append: it
// is counted once.
func (r *Referrer) countCompletion(code string, now time.Time) int {
	if r.counted == code {
		return r.dayCount
	}
	day := now.UTC().Format(time.DateOnly)
	n := 1
	if r.day == day {
		n = r.dayCount + 1
	}
	r.record(&ReferrerCompletionCounted{ReferralCode: code, Day: day, DayCompletions: n, LastIssued: r.last, LastIssuedID: r.lastID})
	return n
}
