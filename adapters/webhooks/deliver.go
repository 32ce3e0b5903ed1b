package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/referral-ledger/referral-ledger/adapters/ssrf"
	"github.com/referral-ledger/referral-ledger/domain"
)

// maxResponseBody is how much of a response the delivery log keeps.
const maxResponseBody = 4 << 10

// maxErrorText is how much of an attempt's error text the delivery log keeps.
const maxErrorText = 1 << 10

// attemptResult is one attempt, as the delivery log records it.
type attemptResult struct {
	At           time.Time
	StatusCode   int // 0 when no response came
	Elapsed      time.Duration
	Success      bool
	Err          string // shown to the webhook's owner: a constant or describe's (clean, bounded)
	ResponseBody string
	RetryAfter   time.Duration // a 429's or 503's Retry-After, bounded
	internal     error         // logged, never shown
}

// deliverer makes attempts: sign the stored body for this attempt, POST it,
// read a bounded part of the answer.
type deliverer struct {
	w       *core
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
		if errors.Is(err, ssrf.ErrDisallowedAddress) {
			// The owner sees the log: it must not map our network for them
			// (which internal address their name resolved to). The operator
			// gets the address here.
			res.Err = "blocked by the address policy"
			d.w.log.WarnContext(ctx, "webhook attempt blocked by the address policy", "host", req.URL.Host, "err", err)
		}
		return res
	}
	b, readErr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	// Drain a little more so the connection can be reused, then close.
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	_ = resp.Body.Close()
	res.Elapsed = time.Since(t0)
	res.StatusCode = resp.StatusCode
	res.RetryAfter = retryAfter(resp, start)
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
// without repeating the URL. The receiver controls part of some causes (a
// TLS certificate's names are repeated verbatim, NUL bytes included, up to
// its 256 KiB), so the text is made one the log can hold, and bounded as a
// response body is.
func describe(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	// The owner must not learn our network: Go names the resolver in a
	// lookup's error ("lookup x on 10.0.0.2:53: ...") and both ends in a
	// connection's ("read tcp 10.0.0.5:41234->...: ...").
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		switch {
		case dnsErr.IsNotFound:
			return "the host name does not resolve"
		case dnsErr.IsTimeout:
			return "the host name lookup timed out"
		}
		return "the host name lookup failed"
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		cause := opErr.Err
		var sysErr *os.SyscallError
		if errors.As(cause, &sysErr) {
			cause = sysErr.Err
		}
		err = fmt.Errorf("%s: %w", opErr.Op, cause)
	}
	s := logText(err.Error())
	if len(s) > maxErrorText {
		s = strings.ToValidUTF8(s[:maxErrorText], "") + " (truncated)"
	}
	return s
}

// Test sends a test event to a webhook now (active or not) and records it
// in the delivery log. Errors: domain.ENotFound.
func (w *DeliveryLog) Test(ctx context.Context, appspaceID, webhookID string) (TestResult, error) {
	r, err := w.load(ctx, w.read, appspaceID, webhookID)
	if err != nil {
		return TestResult{}, err
	}
	secrets, err := w.secrets(r, w.now())
	if err != nil {
		return TestResult{}, err
	}
	eventID := domain.NewID()
	body, err := testBody(eventID, webhookID, appspaceID, w.now())
	if err != nil {
		return TestResult{}, err
	}
	at := w.deliver.attempt(ctx, r.URL, secrets, EventTest, eventID, body)
	if at.internal != nil {
		w.log.ErrorContext(ctx, "webhook test failed inside the ledger", "webhook", webhookID, "err", at.internal)
	}
	d := due{ID: domain.NewPrefixedID("dlv"), WebhookID: webhookID, EventID: eventID, EventType: EventTest,
		Body: string(body), MaxAttempts: 1}
	state, _ := w.nextState(d, 1, at)
	ctx = context.WithoutCancel(ctx) // the attempt happened: record it even if the caller left
	err = w.inTx(ctx, func(tx *sqlx.Tx) error {
		t := at.At.UnixMilli()
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO webhook_deliveries (id, appspace_id, webhook_id,
			event_id, event_type, body, state, attempt_count, schedule_from, max_attempts, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, 1, 0, 1, ?, ?)`),
			d.ID, appspaceID, webhookID, eventID, EventTest, d.Body, state, t, t); err != nil {
			return fmt.Errorf("record test delivery: %w", err)
		}
		return insertAttempt(ctx, tx, d.ID, 1, at)
	})
	if err != nil {
		return TestResult{}, err
	}
	w.met.observe(at, state)
	res := TestResult{Success: at.Success, ResponseTimeMS: at.Elapsed.Milliseconds(), DeliveryID: d.ID}
	if at.StatusCode != 0 {
		res.StatusCode = &at.StatusCode
	}
	if at.Err != "" {
		res.Error = &at.Err
	}
	return res, nil
}
