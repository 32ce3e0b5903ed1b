package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/referral-ledger/referral-ledger/adapters/ssrf"
	"github.com/referral-ledger/referral-ledger/domain"
)

// validate checks a webhook's fields (nil pointers are not being set) and
// returns the events as stored.
func (w *Endpoints) validate(ctx context.Context, name, url *string, events *[]string) (string, error) {
	if name != nil {
		if *name == "" {
			return "", domain.Errorf(domain.EInvalid, "name must be 1 to %d bytes", maxNameLen)
		}
		if err := domain.ValidateText("name", *name, maxNameLen); err != nil {
			return "", err
		}
	}
	if url != nil {
		if err := domain.ValidateText("url", *url, maxURLLen); err != nil {
			return "", err
		}
		// A refusal is the caller's mistake and gets its code here;
		// anything else (a cancelled lookup) is not and stays uncoded.
		if err := w.cfg.Guard.CheckURL(ctx, *url); err != nil {
			var refused *ssrf.Refusal
			if errors.As(err, &refused) {
				return "", domain.Errorf(domain.EInvalid, "%s", refused.Message)
			}
			return "", err
		}
	}
	if events == nil {
		return "", nil
	}
	if len(*events) == 0 {
		return "", domain.Errorf(domain.EInvalid, "events must name at least one of %v", EventTypes)
	}
	var out []string
	for _, e := range *events {
		if err := domain.ValidateID("events entry", e); err != nil {
			return "", err
		}
		if !slices.Contains(EventTypes, e) {
			return "", domain.Errorf(domain.EInvalid, "unknown event %q; events are %v", e, EventTypes)
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	b, err := json.Marshal(out)
	return string(b), err
}
