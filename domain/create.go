package domain

import (
	"context"
	"encoding/json"
	"fmt"
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
	var res CreateResult
	var verdict error
	err := s.retry(ctx, func() error {
		var err error
		res, verdict, err = s.createOnce(ctx, o, in)
		return err
	})
	if err == nil {
		err = verdict
	}
	return res, err
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

// createOnce makes one attempt; the error it returns is an append or read
// failure (perhaps ErrConcurrency), the verdict a domain refusal.
func (s *Service) createOnce(ctx context.Context, o Origin, in CreateInput) (CreateResult, error, error) {
	st, _, err := s.Settings(ctx, o.AppspaceID)
	if err != nil {
		return CreateResult{}, nil, err
	}
	if !st.ReferralsEnabled {
		return CreateResult{}, Errorf(EReferralsDisabled, "referrals are disabled for this appspace"), nil
	}
	now := s.clock()
	referrerStream := ReferrerStream(o.AppspaceID, in.ReferrerID)
	rec, e, found, err := s.readLast(ctx, referrerStream)
	if err != nil {
		return CreateResult{}, nil, err
	}
	var appends []StreamAppend
	var prev ReferrerCodeIssued
	if found {
		issued, ok := e.(*ReferrerCodeIssued)
		if !ok {
			return CreateResult{}, nil, fmt.Errorf("referrer stream %s holds a %s event", referrerStream, rec.Type)
		}
		prev = *issued
		last, err := s.loadReferral(ctx, o.AppspaceID, prev.ReferralCode)
		if err != nil {
			return CreateResult{}, nil, err
		}
		switch {
		case !last.Exists():
			// Another create reserved the code on the referrer's stream
			// and has not created the referral yet, or died before it did:
			// finish it. The event ID derives from the reservation's, so
			// this and that create's append are one event. This call did
			// not issue the code, so it reports created: false.
			r := &Referral{v: ReferralView{AppspaceID: o.AppspaceID}}
			r.record(&prev.Created)
			evs, err := encode(o, r.Changes(), DerivedID(rec.ID, "created"))
			if err != nil {
				return CreateResult{}, nil, err
			}
			err = s.appendAll(ctx, []StreamAppend{{Stream: ReferralStream(o.AppspaceID, prev.ReferralCode), Expected: NoStream(), Events: evs}})
			return CreateResult{Referral: r.View()}, nil, err
		case last.v.ReferrerID != in.ReferrerID:
			// A code collision left a reservation for a code that another
			// referrer owns: it is not this referrer's referral and counts
			// for nothing.
		default:
			loaded := last.Version()
			last.ExpireIfDue(now)
			if last.v.Status == StatusPending {
				return CreateResult{Referral: last.View()}, nil, nil
			}
			if len(last.Changes()) > 0 {
				evs, err := encode(o, last.Changes())
				if err != nil {
					return CreateResult{}, nil, err
				}
				appends = append(appends, StreamAppend{Stream: ReferralStream(o.AppspaceID, prev.ReferralCode), Expected: Exact(loaded), Events: evs})
			}
			if last.v.Status == StatusCompleted {
				prev.CompletedBefore++
			}
		}
	}
	// Expired referrals do not count; there is no pending one here.
	active := prev.CompletedBefore
	if max := st.ReferralMaxPerUser; max != nil && active >= *max {
		verdict := Errorf(EMaxReferralsReached, "referrer %s has reached the limit of %d referrals", in.ReferrerID, *max)
		return CreateResult{}, verdict, s.appendAll(ctx, appends)
	}
	r := &Referral{v: ReferralView{AppspaceID: o.AppspaceID}}
	r.record(s.newCreated(st, in, now))
	issued := &ReferrerCodeIssued{ReferralCode: r.v.ReferralCode, CompletedBefore: active, Issued: prev.Issued + 1, Created: *r.changes[0].(*ReferralCreated)}
	issuedID := NewID()
	issuedEvs, err := encode(o, []Event{issued}, issuedID)
	if err != nil {
		return CreateResult{}, nil, err
	}
	createdEvs, err := encode(o, r.Changes(), DerivedID(issuedID, "created"))
	if err != nil {
		return CreateResult{}, nil, err
	}
	// The referrer's stream first: a crash before the referral stream is
	// written leaves a reservation that the next create completes.
	appends = append(appends,
		StreamAppend{Stream: referrerStream, Expected: Exact(rec.Version), Events: issuedEvs},
		StreamAppend{Stream: ReferralStream(o.AppspaceID, r.v.ReferralCode), Expected: NoStream(), Events: createdEvs},
	)
	if err := s.appendAll(ctx, appends); err != nil {
		return CreateResult{}, nil, err
	}
	return CreateResult{Referral: r.View(), Created: true}, nil, nil
}

func (s *Service) newCreated(st Settings, in CreateInput, now time.Time) *ReferralCreated {
	code := s.newCode()
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
