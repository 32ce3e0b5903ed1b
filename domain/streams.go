package domain

import (
	"context"
	"errors"
	"fmt"
)

// loader reads the streams a command decides on into their aggregates.
type loader struct{ store EventStore }

// settings returns an appspace's current settings and the revision of its
// settings stream (0 while it has the defaults).
func (l loader) settings(ctx context.Context, appspaceID string) (Settings, Revision, error) {
	rec, e, ok, err := l.readLast(ctx, SettingsStream(appspaceID))
	if err != nil || !ok {
		return DefaultSettings(), 0, err
	}
	sc, isSettings := e.(*SettingsChanged)
	if !isSettings {
		return Settings{}, 0, fmt.Errorf("settings stream holds a %s event", rec.Type)
	}
	return sc.Settings, rec.Version, nil
}

// referral loads a referral from its whole stream.
func (l loader) referral(ctx context.Context, appspaceID, code string) (*Referral, error) {
	stream := ReferralStream(appspaceID, code)
	const page = 1000
	var all []RecordedEvent
	for {
		evs, err := l.store.ReadStream(ctx, stream, Revision(len(all))+1, page)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", stream, err)
		}
		all = append(all, evs...)
		if len(evs) < page {
			return LoadReferral(appspaceID, all)
		}
	}
}

// referrer loads a referrer from its stream's last event.
func (l loader) referrer(ctx context.Context, appspaceID, referrerID string) (*Referrer, error) {
	stream := ReferrerStream(appspaceID, referrerID)
	var evs []RecordedEvent
	switch rec, err := l.store.ReadLast(ctx, stream); {
	case errors.Is(err, ErrStreamNotFound):
	case err != nil:
		return nil, fmt.Errorf("read last of %s: %w", stream, err)
	default:
		evs = []RecordedEvent{rec}
	}
	return LoadReferrer(appspaceID, referrerID, evs)
}

// referrerAndLast loads a referrer from its stream's last event, and the
// referral of the code it issued last (nil when none).
func (l loader) referrerAndLast(ctx context.Context, appspaceID, referrerID string) (*Referrer, *Referral, error) {
	ref, err := l.referrer(ctx, appspaceID, referrerID)
	if err != nil {
		return nil, nil, err
	}
	code, ok := ref.LastCode()
	if !ok {
		return ref, nil, nil
	}
	last, err := l.referral(ctx, appspaceID, code)
	return ref, last, err
}

// readLast reads a stream's last event, decoded; ok is false for an empty stream.
func (l loader) readLast(ctx context.Context, stream string) (rec RecordedEvent, e Event, ok bool, err error) {
	rec, err = l.store.ReadLast(ctx, stream)
	if errors.Is(err, ErrStreamNotFound) {
		return rec, nil, false, nil
	}
	if err != nil {
		return rec, nil, false, fmt.Errorf("read last of %s: %w", stream, err)
	}
	e, err = DecodeEvent(rec.Type, rec.Data)
	return rec, e, err == nil, err
}
