package domain

import (
	"context"
	"encoding/json"
	"time"
)

// CreateInput is a request for a referral code.
type CreateInput struct {
	ReferrerID   string
	ReferrerName *string
	Metadata     json.RawMessage
	IP           string
	DeviceID     string
}

// Limits of the client details a create records.
const (
	maxIPLen       = 64
	maxDeviceIDLen = 256
)

// CreateResult is the referral a create returned, and whether the create
// issued it (false when the referrer's pending referral came back).
type CreateResult struct {
	Referral ReferralView
	Created  bool
}

// CreateReferral issues a referral code for a referrer, or returns the
// referrer's pending one. It reads only the last event of the referrer's
// stream and the referral it names, whatever the referrer's history.
// Errors: EInvalid, EReferralsDisabled, EMaxReferralsReached.
func (s *Service) CreateReferral(ctx context.Context, o Origin, in CreateInput) (CreateResult, error) {
	if err := in.validate(); err != nil {
		return CreateResult{}, err
	}
	var d createDecision
	err := retry(ctx, s.attempts, func() error {
		var err error
		d, err = s.creates.once(ctx, o, in)
		return err
	})
	if err != nil {
		return CreateResult{}, err
	}
	return d.result()
}

// validate applies the text rules to everything a create stores.
func (in CreateInput) validate() error {
	if err := ValidateID("user_id", in.ReferrerID); err != nil {
		return err
	}
	if err := ValidateName("user_name", in.ReferrerName); err != nil {
		return err
	}
	if err := ValidateText("ip", in.IP, maxIPLen); err != nil {
		return err
	}
	if err := ValidateText("device_id", in.DeviceID, maxDeviceIDLen); err != nil {
		return err
	}
	return ValidateMetadata(in.Metadata)
}

// creator issues referral codes (CreateReferral).
type creator struct {
	load    loader
	app     appender
	clock   clock
	newCode func() string
}

// once makes one attempt at a create: load, decide (Referrer.decideCreate),
// append. Its error is a read or append failure (perhaps ErrConcurrency);
// a refusal is the decision's verdict.
func (c creator) once(ctx context.Context, o Origin, in CreateInput) (createDecision, error) {
	st, ref, last, err := c.load.referrerAndLast(ctx, o.AppspaceID, in.ReferrerID)
	if err != nil {
		return createDecision{}, err
	}
	if !st.ReferralsEnabled {
		return createDecision{verdict: Errorf(EReferralsDisabled, "referrals are disabled for this appspace")}, nil
	}
	now := c.clock.now()
	d := ref.decideCreate(last, st.ReferralMaxPerUser, now, func() *ReferralCreated { return newCreated(c.newCode(), st, in, now) })
	appends, err := createAppends(o, ref, d)
	if err == nil {
		err = c.app.appendAll(ctx, appends)
	}
	return d, err
}

// createAppends encodes a create's decision. A finished reservation's
// event ID derives from the reservation's, so this and the create that
// reserved it append one event. A new code goes to the referrer's stream
// first: a crash before the referral stream is written leaves a
// reservation that the next create finishes.
func createAppends(o Origin, ref *Referrer, d createDecision) ([]StreamAppend, error) {
	if d.finish != nil {
		code, _ := ref.LastCode()
		evs, err := encode(o, d.finish.Changes(), DerivedID(ref.lastID, "created"))
		return []StreamAppend{{Stream: ReferralStream(o.AppspaceID, code), Expected: NoStream(), Events: evs}}, err
	}
	var appends []StreamAppend
	if d.settle != nil {
		evs, err := encode(o, d.settle.Changes())
		if err != nil {
			return nil, err
		}
		appends = append(appends, StreamAppend{Stream: ReferralStream(o.AppspaceID, d.settle.v.ReferralCode),
			Expected: Exact(d.settle.Version() - Revision(len(d.settle.Changes()))), Events: evs})
	}
	if d.issue == nil {
		return appends, nil
	}
	issuedID := NewID()
	issuedEvs, err := encode(o, ref.Changes(), issuedID)
	if err != nil {
		return nil, err
	}
	createdEvs, err := encode(o, d.issue.Changes(), DerivedID(issuedID, "created"))
	return append(appends,
		StreamAppend{Stream: ref.Stream(), Expected: Exact(ref.Version()), Events: issuedEvs},
		StreamAppend{Stream: ReferralStream(o.AppspaceID, d.issue.v.ReferralCode), Expected: NoStream(), Events: createdEvs},
	), err
}

// newCreated is the creation event of a new referral with code.
func newCreated(code string, st Settings, in CreateInput, now time.Time) *ReferralCreated {
	c := &ReferralCreated{
		ReferralID: NewID(), ReferralCode: code, ReferrerID: in.ReferrerID, ReferrerName: in.ReferrerName,
		ReferralURL: st.referralURL(code), Metadata: in.Metadata, IP: in.IP, DeviceID: in.DeviceID, CreatedAt: now,
	}
	if d := st.ReferralExpirationDays; d != nil {
		exp := now.AddDate(0, 0, *d)
		c.ExpiresAt = &exp
	}
	return c
}
