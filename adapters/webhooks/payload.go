package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

// Webhook event types: the names receivers see in the body's "event" field.
const (
	EventReferralCreated   = "referral.created"
	EventReferralCompleted = "referral.completed"
	EventMilestoneReached  = "referral.milestone_reached"
	EventRewardClaimed     = "referral.reward_claimed"
	EventReferralExpired   = "referral.expired"
	EventTest              = "test"
	// The reward lifecycle's events.
	EventReferralFlagged = "referral.flagged"
	EventReviewResolved  = "referral.review_resolved"
	EventRewardReversed  = "referral.reward_reversed"
	EventReferralVoided  = "referral.voided"
)

// EventTypes are the types a webhook can subscribe to; "test" is sent on
// request whatever a webhook subscribes to.
var EventTypes = []string{EventReferralCreated, EventReferralCompleted, EventMilestoneReached,
	EventRewardClaimed, EventReferralExpired, EventWebhookDisabled,
	EventReferralFlagged, EventReviewResolved, EventRewardReversed, EventReferralVoided}

// webhookType maps a log event type to its webhook event type; events of
// other types (guards, settings) raise no webhook.
func webhookType(logType string) (string, bool) {
	switch logType {
	case domain.TypeReferralCreated:
		return EventReferralCreated, true
	case domain.TypeReferralCompleted:
		return EventReferralCompleted, true
	case domain.TypeMilestoneReached:
		return EventMilestoneReached, true
	case domain.TypeRewardClaimed:
		return EventRewardClaimed, true
	case domain.TypeReferralExpired:
		return EventReferralExpired, true
	case domain.TypeReferralFlagged:
		return EventReferralFlagged, true
	case domain.TypeReviewResolved:
		return EventReviewResolved, true
	case domain.TypeRewardReversed:
		return EventRewardReversed, true
	case domain.TypeReferralVoided:
		return EventReferralVoided, true
	}
	return "", false
}

// envelope is the request body: our event id, then Tolinku's envelope.
type envelope struct {
	ID        string `json:"id"`
	Event     string `json:"event"`
	Timestamp string `json:"timestamp"`
	Data      any    `json:"data"`
}

// Payloads, Tolinku's fields first and in its order, so receivers written
// for Tolinku's webhooks read ours unchanged.
type (
	createdData struct {
		ReferralCode string  `json:"referral_code"`
		ReferrerID   string  `json:"referrer_id"`
		ReferralURL  *string `json:"referral_url"`
	}
	completedData struct {
		ReferralCode       string  `json:"referral_code"`
		ReferrerID         string  `json:"referrer_id"`
		ReferredUserID     *string `json:"referred_user_id"`
		Milestone          string  `json:"milestone"`
		RewardType         *string `json:"reward_type"`
		RewardValue        *string `json:"reward_value"`
		RefereeRewardType  *string `json:"referee_reward_type"`
		RefereeRewardValue *string `json:"referee_reward_value"`
	}
	milestoneData struct {
		ReferralCode   string  `json:"referral_code"`
		ReferrerID     string  `json:"referrer_id"`
		ReferredUserID *string `json:"referred_user_id"`
		Milestone      string  `json:"milestone"`
	}
	claimedData struct {
		ReferralCode   string  `json:"referral_code"`
		ReferrerID     string  `json:"referrer_id"`
		ReferredUserID *string `json:"referred_user_id"`
		Side           string  `json:"side"`
	}
	expiredData struct {
		ReferralCode string `json:"referral_code"`
		ReferrerID   string `json:"referrer_id"`
	}
	// The lifecycle's payloads start with referral_code, referrer_id,
	// referred_user_id.
	flaggedData struct {
		ReferralCode   string   `json:"referral_code"`
		ReferrerID     string   `json:"referrer_id"`
		ReferredUserID *string  `json:"referred_user_id"`
		Reasons        []string `json:"reasons"`
	}
	resolvedData struct {
		ReferralCode   string  `json:"referral_code"`
		ReferrerID     string  `json:"referrer_id"`
		ReferredUserID *string `json:"referred_user_id"`
		Decision       string  `json:"decision"`
	}
	reversedData struct {
		ReferralCode   string  `json:"referral_code"`
		ReferrerID     string  `json:"referrer_id"`
		ReferredUserID *string `json:"referred_user_id"`
		Side           string  `json:"side"`
		Reason         string  `json:"reason"`
		Clawback       bool    `json:"clawback"`
	}
	voidedData struct {
		ReferralCode   string  `json:"referral_code"`
		ReferrerID     string  `json:"referrer_id"`
		ReferredUserID *string `json:"referred_user_id"`
		Reason         string  `json:"reason"`
	}
	testData struct {
		Message    string `json:"message"`
		WebhookID  string `json:"webhook_id"`
		AppspaceID string `json:"appspace_id"`
	}
)

// Outgoing is one event as the dispatcher receives it: the body every
// subscribed webhook gets, and what routes it.
type Outgoing struct {
	EventID      string
	Type         string // webhook event type
	AppspaceID   string
	ReferralCode string
	RecordedAt   time.Time
	Body         []byte
}

// referralFacts is what a referral's earlier events say that a later
// event's payload repeats.
type referralFacts struct {
	referrerID     string
	referredUserID *string
}

// factsAt is what the referral's stream says up to version, by the
// domain's own fold (the same one the API's referral view uses).
func factsAt(appspaceID string, stream []domain.RecordedEvent, version domain.Revision) (referralFacts, error) {
	n := 0
	for n < len(stream) && stream[n].Version <= version {
		n++
	}
	r, err := domain.LoadReferral(appspaceID, stream[:n])
	if err != nil {
		return referralFacts{}, err
	}
	v := r.View()
	return referralFacts{referrerID: v.ReferrerID, referredUserID: v.ReferredUserID}, nil
}

// streamReader reads a referral's stream once per batch of events.
type streamReader struct {
	store domain.EventStore
	cache map[string][]domain.RecordedEvent
}

func (r *streamReader) facts(ctx context.Context, e domain.RecordedEvent) (referralFacts, error) {
	evs, ok := r.cache[e.Stream]
	if !ok || len(evs) == 0 || evs[len(evs)-1].Version < e.Version {
		var err error
		if evs, err = r.store.ReadStream(ctx, e.Stream, 1, 1<<20); err != nil {
			// The store failed, not the event: retry, never quarantine.
			return referralFacts{}, fmt.Errorf("read %s: %w", e.Stream, projections.Retryable(err))
		}
		if r.cache == nil {
			r.cache = map[string][]domain.RecordedEvent{}
		}
		r.cache[e.Stream] = evs
	}
	appspaceID, _, _ := domain.ParseStream(e.Stream)
	return factsAt(appspaceID, evs, e.Version)
}

// outgoing builds the webhook event for a log event, or reports false for
// an event that raises none.
func (r *streamReader) outgoing(ctx context.Context, e domain.RecordedEvent) (Outgoing, bool, error) {
	typ, ok := webhookType(e.Type)
	if !ok {
		return Outgoing{}, false, nil
	}
	appspaceID, category, code := domain.ParseStream(e.Stream)
	if category != "referral" {
		return Outgoing{}, false, nil
	}
	ev, err := domain.DecodeEvent(e.Type, e.Data)
	if err != nil {
		return Outgoing{}, false, err
	}
	var data any
	if created, ok := ev.(*domain.ReferralCreated); ok {
		data = createdData{ReferralCode: code, ReferrerID: created.ReferrerID, ReferralURL: created.ReferralURL}
	} else {
		f, err := r.facts(ctx, e)
		if err != nil {
			return Outgoing{}, false, err
		}
		switch ev := ev.(type) {
		case *domain.ReferralCompleted:
			referee := ev.ReferredUserID
			if referee == nil {
				referee = f.referredUserID
			}
			data = completedData{ReferralCode: code, ReferrerID: f.referrerID, ReferredUserID: referee,
				Milestone: ev.Milestone, RewardType: ev.RewardType, RewardValue: ev.RewardValue,
				RefereeRewardType: ev.RefereeRewardType, RefereeRewardValue: ev.RefereeRewardValue}
		case *domain.MilestoneReached:
			data = milestoneData{ReferralCode: code, ReferrerID: f.referrerID, ReferredUserID: f.referredUserID, Milestone: ev.Milestone}
		case *domain.RewardClaimed:
			data = claimedData{ReferralCode: code, ReferrerID: f.referrerID, ReferredUserID: f.referredUserID, Side: ev.Side}
		case *domain.ReferralExpired:
			data = expiredData{ReferralCode: code, ReferrerID: f.referrerID}
		default:
			data = lifecycleData(code, f, ev)
		}
	}
	body, err := json.Marshal(envelope{ID: e.ID, Event: typ, Timestamp: e.RecordedAt.UTC().Format(domain.TimeFormat), Data: data})
	if err != nil {
		return Outgoing{}, false, err
	}
	return Outgoing{EventID: e.ID, Type: typ, AppspaceID: appspaceID, ReferralCode: code, RecordedAt: e.RecordedAt, Body: body}, true, nil
}

// lifecycleData is the payload of a reward lifecycle event.
func lifecycleData(code string, f referralFacts, ev domain.Event) any {
	switch ev := ev.(type) {
	case *domain.ReferralFlagged:
		return flaggedData{ReferralCode: code, ReferrerID: f.referrerID, ReferredUserID: f.referredUserID, Reasons: ev.Reasons}
	case *domain.ReviewResolved:
		return resolvedData{ReferralCode: code, ReferrerID: f.referrerID, ReferredUserID: f.referredUserID, Decision: ev.Decision}
	case *domain.RewardReversed:
		return reversedData{ReferralCode: code, ReferrerID: f.referrerID, ReferredUserID: f.referredUserID,
			Side: ev.Side, Reason: ev.Reason, Clawback: ev.Clawback}
	case *domain.ReferralVoided:
		return voidedData{ReferralCode: code, ReferrerID: f.referrerID, ReferredUserID: f.referredUserID, Reason: ev.Reason}
	}
	return nil
}

// testBody is the body of a test event.
func testBody(id, webhookID, appspaceID string, now time.Time) ([]byte, error) {
	return json.Marshal(envelope{ID: id, Event: EventTest, Timestamp: now.UTC().Format(domain.TimeFormat),
		Data: testData{Message: "This is a test webhook from Referral Ledger.", WebhookID: webhookID, AppspaceID: appspaceID}})
}
