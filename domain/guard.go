package domain

import (
	"context"
	"fmt"
	"time"
)

// refereeGuard returns the append that reserves the referred user a
// referral's changes attribute, or nil when they attribute nobody or the
// reservation already names this referral. It is ordered before the
// referral's own append: a crash in between leaves a reservation that a
// retry of the command finds and accepts.
// pre is a guard stream read ahead with the referral, if any.
// Errors: ERefereeAlreadyReferred.
func (c referralCommands) refereeGuard(ctx context.Context, o Origin, r *Referral, now time.Time, pre readAhead) ([]StreamAppend, error) {
	var user string
	for _, e := range r.Changes() {
		if a, ok := e.(*RefereeAttributed); ok {
			user = a.ReferredUserID
		}
	}
	if user == "" {
		return nil, nil
	}
	stream := RefereeStream(o.AppspaceID, user)
	rec, e, found, err := c.load.lastOf(ctx, stream, pre)
	if err != nil {
		return nil, err
	}
	expected := NoStream()
	if found {
		held, ok := e.(*RefereeReserved)
		if !ok {
			return nil, fmt.Errorf("referee stream %s holds a %s event", stream, rec.Type)
		}
		if held.ReferralCode == r.v.ReferralCode {
			return nil, nil
		}
		other, err := c.load.referral(ctx, o.AppspaceID, held.ReferralCode)
		if err != nil {
			return nil, err
		}
		if mayHold(&other.v, user, now) {
			return nil, Errorf(ERefereeAlreadyReferred, "referred user %s is already attributed to another referral", user)
		}
		// The reservation is stale: its referral can never hold this user
		// (a crash left it, and that referral went another way).
		expected = Exact(rec.Version)
	}
	evs, err := encode(o, []Event{&RefereeReserved{ReferralCode: r.v.ReferralCode, ReservedAt: now}})
	if err != nil {
		return nil, err
	}
	return []StreamAppend{{Stream: stream, Expected: expected, Events: evs}}, nil
}

// mayHold reports whether the referral in state v holds user as its
// referred user, or still could (pending, unexpired, with nobody
// attributed yet: another command may be between reserving the user and
// attributing it).
func mayHold(v *ReferralView, user string, now time.Time) bool {
	if v.ReferredUserID != nil {
		return *v.ReferredUserID == user
	}
	if v.Version == 0 || v.Status != StatusPending {
		return false
	}
	return v.ExpiresAt == nil || now.Before(*v.ExpiresAt)
}
