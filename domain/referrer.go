package domain

import (
	"fmt"
	"time"
)

// Referrer is the aggregate of one referrer's stream: the codes issued to
// the referrer. Each ReferrerCodeIssued carries the running state, so the
// service loads a referrer from its stream's last event alone.
type Referrer struct {
	appspaceID string
	referrerID string
	last       *ReferrerCodeIssued // the last code issued; nil before the first
	lastID     string              // the stored ID of last, which IDs derive from
	day        string              // the UTC day of the velocity count
	dayCount   int                 // completions counted on day
	counted    string              // the code the last event counted, if it was a count
	version    Revision
	changes    []Event
}

// LoadReferrer rebuilds a referrer from events of its stream, oldest
// first: all of them, or only the last, which says as much.
func LoadReferrer(appspaceID, referrerID string, events []RecordedEvent) (*Referrer, error) {
	r := &Referrer{appspaceID: appspaceID, referrerID: referrerID}
	for _, re := range events {
		e, err := DecodeEvent(re.Type, re.Data)
		if err != nil {
			return nil, err
		}
		switch e := e.(type) {
		case *ReferrerCodeIssued:
			r.lastID = re.ID
		case *ReferrerCompletionCounted:
			r.lastID = e.LastIssuedID
		default:
			return nil, fmt.Errorf("referrer stream %s holds a %s event", r.Stream(), re.Type)
		}
		r.apply(e)
		r.version = re.Version
	}
	return r, nil
}

// Stream is the referrer's stream name.
func (r *Referrer) Stream() string { return ReferrerStream(r.appspaceID, r.referrerID) }

// Version is the stream revision loaded; 0 for a new referrer.
func (r *Referrer) Version() Revision { return r.version }

// Changes are the events recorded since the referrer was loaded.
func (r *Referrer) Changes() []Event { return r.changes }

// LastCode is the code issued last, if any.
func (r *Referrer) LastCode() (string, bool) {
	if r.last == nil {
		return "", false
	}
	return r.last.ReferralCode, true
}

func (r *Referrer) record(e Event) {
	r.apply(e)
	r.changes = append(r.changes, e)
}

// apply only changes state; it ignores events of other streams.
func (r *Referrer) apply(e Event) {
	switch e := e.(type) {
	case *ReferrerCodeIssued:
		c := *e
		r.last = &c
		r.day, r.dayCount, r.counted = e.Day, e.DayCompletions, ""
	case *ReferrerCompletionCounted:
		r.last = e.LastIssued
		r.day, r.dayCount, r.counted = e.Day, e.DayCompletions, e.ReferralCode
	}
}

// createDecision is what a create does, as Referrer.decideCreate decides:
// at most one of its referrals is set, and settle may come with issue or
// with a verdict.
type createDecision struct {
	finish  *Referral // a reservation's referral, created now; not issued by this create
	pending *Referral // the referrer's pending referral, answered as is
	settle  *Referral // the last referral, its expiry recorded: append it
	issue   *Referral // a new referral; the referrer recorded its code
	verdict error     // a refusal (EReferralsDisabled, EMaxReferralsReached)
}

// result is what the create answers once the decision is appended.
func (d createDecision) result() (CreateResult, error) {
	switch {
	case d.verdict != nil:
		return CreateResult{}, d.verdict
	case d.pending != nil:
		return CreateResult{Referral: d.pending.View()}, nil
	case d.finish != nil:
		return CreateResult{Referral: d.finish.View()}, nil
	}
	return CreateResult{Referral: d.issue.View(), Created: true}, nil
}

// decideCreate decides a create, given the referral of the last code
// (nil when none was issued), the per-referrer limit (nil: none), now,
// and how to make the ReferralCreated of a new code (called only to issue
// one: it draws the code). A refusal (EMaxReferralsReached) is the
// decision's verdict; settle still holds then.
func (r *Referrer) decideCreate(last *Referral, limit *int, now time.Time, newCreated func() *ReferralCreated) (d createDecision) {
	var completedBefore, issued int
	if r.last != nil {
		completedBefore, issued = r.last.CompletedBefore, r.last.Issued
		switch {
		case !last.Exists():
			// Another create reserved the code and has not created the
			// referral yet, or died before it did: finish it.
			d.finish = &Referral{v: ReferralView{AppspaceID: r.appspaceID}}
			d.finish.record(&r.last.Created)
			return d
		case last.v.ReferrerID != r.referrerID:
			// A code collision left a reservation for a code another
			// referrer owns: it counts for nothing.
		default:
			last.ExpireIfDue(now)
			if last.v.Status == StatusPending {
				return createDecision{pending: last}
			}
			if len(last.Changes()) > 0 {
				d.settle = last
			}
			if last.v.CompletedAt != nil {
				completedBefore++ // voided after completing, it still counts
			}
		}
	}
	// Expired referrals do not count; there is no pending one here.
	if limit != nil && completedBefore >= *limit {
		d.verdict = Errorf(EMaxReferralsReached, "referrer %s has reached the limit of %d referrals", r.referrerID, *limit)
		return d
	}
	created := newCreated()
	d.issue = &Referral{v: ReferralView{AppspaceID: r.appspaceID}}
	d.issue.record(created)
	r.record(&ReferrerCodeIssued{ReferralCode: created.ReferralCode, CompletedBefore: completedBefore, Issued: issued + 1, Created: *created,
		Day: r.day, DayCompletions: r.dayCount})
	return d
}
