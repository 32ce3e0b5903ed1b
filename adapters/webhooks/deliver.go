package webhooks

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"
)

// maxResponseBody is how much of a response the delivery log keeps.
const maxResponseBody = 4 << 10

// attemptResult is one attempt, as the delivery log records it.
type attemptResult struct {
	At           time.Time
	StatusCode   int // 0 when no response came
	Elapsed      time.Duration
	Success      bool
	Err          string // shown to the webhook's owner
	ResponseBody string
	internal     error // logged, never shown
}

// deliverer makes attempts: sign the stored body for this attempt, POST it,
// read a bounded part of the answer.
type deliverer struct {
	w       *Webhooks
	client  *http.Client
	version string
}

func (d *deliverer) attempt(ctx context.Context, target string, secrets []string, eventType, eventID string, body []byte) attemptResult {
	start := d.w.now()
	res := attemptResult{At: start}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		res.Err = "invalid webhook URL"
		return res
	}
	if err := Sign(req.Header, secrets, eventType, eventID, start, body, d.version); err != nil {
		res.Err, res.internal = "internal error: signing failed", err
		return res
	}
	t0 := time.Now()
	resp, err := d.client.Do(req)
	if err != nil {
		res.Elapsed = time.Since(t0)
		res.Err = describe(err)
		return res
	}
	b, readErr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	// Drain a little more so the connection can be reused, then close.
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	_ = resp.Body.Close()
	res.Elapsed = time.Since(t0)
	res.StatusCode = resp.StatusCode
	res.ResponseBody = string(b)
	res.Success = resp.StatusCode >= 200 && resp.StatusCode < 300 && readErr == nil
	switch {
	case readErr != nil:
		res.Err = "reading the response: " + describe(readErr)
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		res.Err = "redirects are not followed"
	case !res.Success:
		res.Err = "non-2xx response"
	}
	return res
}

// describe is an attempt error for the delivery log: the URL error's cause,
// without repeating the URL.
func describe(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return err.Error()
}
