package domain

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// issuedRecord is a stored ReferrerCodeIssued of the test referrer.
func issuedRecord(tb testing.TB, e *ReferrerCodeIssued, version Revision) RecordedEvent {
	tb.Helper()
	data, err := json.Marshal(e)
	if err != nil {
		tb.Fatal(err)
	}
	return RecordedEvent{Stream: ReferrerStream(testAppspace, testReferrer), Version: version, ID: NewID(),
		Type: TypeReferrerCodeIssued, Data: data, RecordedAt: t0}
}

// Given the referrer's last issue and the referral of its code, when a
// create is decided, then it answers, finishes, settles or issues.
func TestReferrerDecideCreate(t *testing.T) {
	t.Parallel()
	next := &ReferralCreated{ReferralID: "next-id", ReferralCode: "NEXT000001", ReferrerID: testReferrer, CreatedAt: now}
	otherOwner := created()
	otherOwner.ReferrerID = "someone_else"
	type then struct {
		Kind     string // finish, pending, issue, refused
		Code     string
		Status   Status
		Settled  []string // event types appended to the last referral
		Recorded []Event  // on the referrer's stream
	}
	for _, tc := range []struct {
		name  string
		given *ReferrerCodeIssued // nil: a new referrer
		last  *Referral           // the referral of the given code
		limit *int
		at    time.Time // when the create runs; zero: now
		want  then
	}{
		{name: "first code", want: then{Kind: "issue", Code: "NEXT000001", Status: StatusPending,
			Recorded: []Event{&ReferrerCodeIssued{ReferralCode: "NEXT000001", Issued: 1, Created: *next}}}},
		{name: "pending comes back", given: &ReferrerCodeIssued{ReferralCode: testCode, Issued: 1, Created: *created()},
			last: loadReferral(t, created()), want: then{Kind: "pending", Code: testCode, Status: StatusPending}},
		{name: "reservation finished", given: &ReferrerCodeIssued{ReferralCode: testCode, Issued: 1, Created: *created()},
			last: &Referral{v: ReferralView{AppspaceID: testAppspace}}, want: then{Kind: "finish", Code: testCode, Status: StatusPending}},
		{name: "completed counts", given: &ReferrerCodeIssued{ReferralCode: testCode, CompletedBefore: 1, Issued: 2, Created: *created()},
			last: loadReferral(t, created(), completedHistory(nil, nil)...), want: then{Kind: "issue", Code: "NEXT000001", Status: StatusPending,
				Recorded: []Event{&ReferrerCodeIssued{ReferralCode: "NEXT000001", CompletedBefore: 2, Issued: 3, Created: *next}}}},
		{name: "limit reached", given: &ReferrerCodeIssued{ReferralCode: testCode, CompletedBefore: 1, Issued: 2, Created: *created()},
			last: loadReferral(t, created(), completedHistory(nil, nil)...), limit: ptr(2), want: then{Kind: "refused"}},
		{name: "due expiry settled, not counted", given: &ReferrerCodeIssued{ReferralCode: testCode, Issued: 1, Created: *created()},
			last: loadReferral(t, created()), limit: ptr(1), at: expires.Add(time.Millisecond), want: then{Kind: "issue", Code: "NEXT000001", Status: StatusPending,
				Settled:  []string{TypeReferralExpired},
				Recorded: []Event{&ReferrerCodeIssued{ReferralCode: "NEXT000001", Issued: 2, Created: *next}}}},
		{name: "collision counts for nothing", given: &ReferrerCodeIssued{ReferralCode: testCode, Issued: 1, Created: *created()},
			last: loadReferral(t, otherOwner), want: then{Kind: "issue", Code: "NEXT000001", Status: StatusPending,
				Recorded: []Event{&ReferrerCodeIssued{ReferralCode: "NEXT000001", Issued: 2, Created: *next}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var recs []RecordedEvent
			if tc.given != nil {
				recs = append(recs, issuedRecord(t, tc.given, 1))
			}
			r, err := LoadReferrer(testAppspace, testReferrer, recs)
			if err != nil {
				t.Fatal(err)
			}
			when := now
			if !tc.at.IsZero() {
				when = tc.at
			}
			d := r.decideCreate(tc.last, tc.limit, when, func() *ReferralCreated { c := *next; return &c })
			verdict := d.verdict
			var got then
			var ref *Referral
			switch {
			case verdict != nil:
				got.Kind = "refused"
				if ErrorCode(verdict) != EMaxReferralsReached {
					t.Errorf("verdict %v, want %s", verdict, EMaxReferralsReached)
				}
			case d.finish != nil:
				got.Kind, ref = "finish", d.finish
			case d.pending != nil:
				got.Kind, ref = "pending", d.pending
			case d.issue != nil:
				got.Kind, ref = "issue", d.issue
			}
			if ref != nil {
				got.Code, got.Status = ref.View().ReferralCode, ref.View().Status
			}
			if d.settle != nil {
				for _, e := range d.settle.Changes() {
					got.Settled = append(got.Settled, e.EventType())
				}
			}
			got.Recorded = r.Changes()
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("decision (-got +want):\n%s", diff)
			}
		})
	}
}

// A referrer stream that holds another event type does not load.
func TestLoadReferrerRefusesOtherEvents(t *testing.T) {
	t.Parallel()
	data, _ := json.Marshal(created())
	_, err := LoadReferrer(testAppspace, testReferrer, []RecordedEvent{{Type: TypeReferralCreated, Data: data, Version: 1}})
	if err == nil {
		t.Fatal("LoadReferrer accepted a ReferralCreated")
	}
}
