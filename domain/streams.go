package domain

import (
	"context"
	"errors"
	"fmt"
)

// loader reads the streams a command decides on into their aggregates.
type loader struct{ store EventStore }

// referralPage is how many events of a referral stream one read returns.
const referralPage = 1000

// settings returns an appspace's current settings and the revision of its
// settings stream (0 while it has the defaults).
func (l loader) settings(ctx context.Context, appspaceID string) (Settings, Revision, error) {
	rec, e, ok, err := l.readLast(ctx, SettingsStream(appspaceID))
	if err != nil || !ok {
		return DefaultSettings(), 0, err
	}
	return settingsOf(rec, e)
}

// settingsOf reads the settings from the settings stream's last event.
func settingsOf(rec RecordedEvent, e Event) (Settings, Revision, error) {
	sc, isSettings := e.(*SettingsChanged)
	if !isSettings {
		return Settings{}, 0, fmt.Errorf("settings stream holds a %s event", rec.Type)
	}
	return sc.Settings, rec.Version, nil
}

// referral loads a referral from its whole stream.
func (l loader) referral(ctx context.Context, appspaceID, code string) (*Referral, error) {
	stream := ReferralStream(appspaceID, code)
	evs, err := l.store.ReadStream(ctx, stream, 1, referralPage)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", stream, err)
	}
	return l.referralFrom(ctx, appspaceID, code, evs)
}

// referralFrom loads a referral from its whole stream, given its first
// page: what reading referralPage events from revision 1 returned.
func (l loader) referralFrom(ctx context.Context, appspaceID, code string, first []RecordedEvent) (*Referral, error) {
	stream := ReferralStream(appspaceID, code)
	all, page := first, first
	for len(page) == referralPage {
		var err error
		if page, err = l.store.ReadStream(ctx, stream, Revision(len(all))+1, referralPage); err != nil {
			return nil, fmt.Errorf("read %s: %w", stream, err)
		}
		all = append(all, page...)
	}
	return LoadReferral(appspaceID, all)
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

// referrerAndLast loads the settings, a referrer from its stream's last
// event, and the referral of the code it issued last (nil when none). The
// settings and the referrer are read together (see batch).
func (l loader) referrerAndLast(ctx context.Context, appspaceID, referrerID string) (Settings, *Referrer, *Referral, error) {
	got, err := l.batch(ctx, StreamRead{Stream: SettingsStream(appspaceID), Last: true},
		StreamRead{Stream: ReferrerStream(appspaceID, referrerID), Last: true})
	if err != nil {
		return Settings{}, nil, nil, err
	}
	st, _, err := settingsFrom(got[0])
	if err != nil {
		return Settings{}, nil, nil, err
	}
	ref, err := LoadReferrer(appspaceID, referrerID, got[1])
	if err != nil {
		return Settings{}, nil, nil, err
	}
	code, ok := ref.LastCode()
	if !ok {
		return st, ref, nil, nil
	}
	last, err := l.referral(ctx, appspaceID, code)
	return st, ref, last, err
}

// settingsFrom reads the settings from what a read of the settings
// stream's last event returned.
func settingsFrom(evs []RecordedEvent) (Settings, Revision, error) {
	if len(evs) == 0 {
		return DefaultSettings(), 0, nil
	}
	rec := evs[len(evs)-1]
	e, err := DecodeEvent(rec.Type, rec.Data)
	if err != nil {
		return Settings{}, 0, err
	}
	return settingsOf(rec, e)
}

// batch reads several streams: in one call where the store is a
// BatchReader, one stream at a time otherwise.
func (l loader) batch(ctx context.Context, reads ...StreamRead) ([][]RecordedEvent, error) {
	if b, ok := l.store.(BatchReader); ok {
		got, err := b.ReadStreams(ctx, reads)
		if err != nil {
			return nil, fmt.Errorf("read %s and %d more: %w", reads[0].Stream, len(reads)-1, err)
		}
		return got, nil
	}
	out := make([][]RecordedEvent, len(reads))
	for i, r := range reads {
		if !r.Last {
			evs, err := l.store.ReadStream(ctx, r.Stream, r.From, r.Limit)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", r.Stream, err)
			}
			out[i] = evs
			continue
		}
		rec, _, ok, err := l.readLast(ctx, r.Stream)
		if err != nil {
			return nil, err
		}
		if ok {
			out[i] = []RecordedEvent{rec}
		}
	}
	return out, nil
}

// readAhead is the last event of a stream read before it was known to be
// needed: none when events is empty.
type readAhead struct {
	stream string
	events []RecordedEvent
}

// referralAndSettings loads the settings and a referral in one batch, with
// the last event of referee's guard stream when referee is set.
func (l loader) referralAndSettings(ctx context.Context, appspaceID, code, referee string) (Settings, Revision, *Referral, readAhead, error) {
	reads := []StreamRead{{Stream: SettingsStream(appspaceID), Last: true}, {Stream: ReferralStream(appspaceID, code), From: 1, Limit: referralPage}}
	if referee != "" {
		reads = append(reads, StreamRead{Stream: RefereeStream(appspaceID, referee), Last: true})
	}
	got, err := l.batch(ctx, reads...)
	if err != nil {
		return Settings{}, 0, nil, readAhead{}, err
	}
	st, sv, err := settingsFrom(got[0])
	if err != nil {
		return Settings{}, 0, nil, readAhead{}, err
	}
	r, err := l.referralFrom(ctx, appspaceID, code, got[1])
	if err != nil {
		return Settings{}, 0, nil, readAhead{}, err
	}
	var guard readAhead
	if referee != "" {
		guard = readAhead{stream: reads[2].Stream, events: got[2]}
	}
	return st, sv, r, guard, nil
}

// lastOf returns the last event of stream, decoded, from pre when it was
// read ahead and from the store otherwise; ok is false for an empty stream.
func (l loader) lastOf(ctx context.Context, stream string, pre readAhead) (rec RecordedEvent, e Event, ok bool, err error) {
	if pre.stream != stream || stream == "" {
		return l.readLast(ctx, stream)
	}
	if len(pre.events) == 0 {
		return rec, nil, false, nil
	}
	rec = pre.events[len(pre.events)-1]
	e, err = DecodeEvent(rec.Type, rec.Data)
	return rec, e, err == nil, err
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
