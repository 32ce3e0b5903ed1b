package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestConsole drives the operator console in headless chromium through
// the flows an operator uses, against a served ledger. One browser and one
// server serve the steps, which run in order.
func TestConsole(t *testing.T) {
	srv := startConsoleServer(t)
	ctx := newBrowser(t, srv.url, 1280, 800)

	t.Run("sign in", func(t *testing.T) {
		act(t, ctx, chromedp.Navigate(srv.url+"/"), chromedp.WaitVisible("#api-key", chromedp.ByQuery),
			chromedp.SendKeys("#api-key", "not-a-key", chromedp.ByQuery), chromedp.SendKeys("#api-key", kb.Enter, chromedp.ByQuery))
		if got := text(t, ctx, ".signin .notice.error"); !strings.Contains(got, "not accepted") {
			t.Errorf("bad key: got %q, want a 'not accepted' message", got)
		}
		signIn(t, ctx, srv.url, srv.key)
		if got := text(t, ctx, "#who strong"); got != "default" {
			t.Errorf("appspace shown %q, want default", got)
		}
		var stored string
		act(t, ctx, chromedp.Evaluate(`(localStorage.length === 0 ? "" : "localStorage used") + location.href`, &stored))
		if strings.Contains(stored, srv.key) || strings.Contains(stored, "localStorage used") {
			t.Errorf("the key leaked: %q", stored)
		}
	})

	var code string
	t.Run("overview numbers match the API", func(t *testing.T) {
		for i := range 3 {
			out := srv.call(t, "POST", "/v1/api/referral/create", map[string]any{"user_id": fmt.Sprintf("u%d", i)})
			if i == 0 {
				code = out["referral_code"].(string)
			}
		}
		srv.call(t, "POST", "/v1/api/referral/milestone", map[string]any{"referral_code": code, "milestone": "signed_up", "referred_user_id": "friend"})
		srv.call(t, "POST", "/v1/api/referral/complete", map[string]any{"referral_code": code})
		var stats map[string]any
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if stats = srv.call(t, "GET", "/v1/api/referral/stats", nil); stats["total"] == 3.0 && stats["completed"] == 1.0 {
				break
			}
		}
		act(t, ctx, chromedp.Navigate(srv.url+"/#/"), chromedp.Reload(), chromedp.WaitVisible(".chart polyline", chromedp.ByQuery))
		for _, k := range []string{"total", "pending", "completed", "expired"} {
			if got, want := text(t, ctx, `[data-stat="`+k+`"] .value`), fmt.Sprint(stats[k]); got != want {
				t.Errorf("%s card %q, API %q", k, got, want)
			}
		}
		if got := text(t, ctx, `[data-stat="conversion_rate"] .value`); got != "33.3%" {
			t.Errorf("conversion rate card %q, want 33.3%% (API %v)", got, stats["conversion_rate"])
		}
		if got := text(t, ctx, "[data-series-total]"); !strings.HasPrefix(got, "3 created and 1 completed") {
			t.Errorf("chart summary %q, want 3 created and 1 completed", got)
		}
	})

	t.Run("find a referral and see its timeline", func(t *testing.T) {
		act(t, ctx, chromedp.Click(`#nav a[href="#/referrals"]`, chromedp.ByQuery),
			chromedp.WaitVisible("#f-code", chromedp.ByQuery), chromedp.SendKeys("#f-code", code, chromedp.ByQuery),
			chromedp.SendKeys("#f-code", kb.Enter, chromedp.ByQuery), chromedp.WaitVisible(".timeline li", chromedp.ByQuery))
		if got := text(t, ctx, ".timeline"); !strings.Contains(got, "signed_up") || !strings.Contains(got, "completed") {
			t.Errorf("timeline %q, want signed_up then completed", got)
		}
		if got := text(t, ctx, "section table"); !strings.Contains(got, "ReferralCompleted") {
			t.Errorf("events table %q lacks ReferralCompleted", got)
		}
	})

	t.Run("a bad setting shows the API's error in place", func(t *testing.T) {
		field := "#s-referral_expiration_days"
		act(t, ctx, chromedp.Click(`#nav a[href="#/settings"]`, chromedp.ByQuery), chromedp.WaitVisible(field, chromedp.ByQuery),
			chromedp.SetValue(field, "0", chromedp.ByQuery), chromedp.SendKeys(field, kb.Enter, chromedp.ByQuery),
			chromedp.WaitVisible(field+`[aria-invalid="true"]`, chromedp.ByQuery))
		if got := text(t, ctx, field+"-error"); !strings.Contains(got, "referral_expiration_days must be between") {
			t.Errorf("field error %q, want the API's message", got)
		}
		act(t, ctx, chromedp.SetValue(field, "45", chromedp.ByQuery), chromedp.SendKeys(field, kb.Enter, chromedp.ByQuery),
			chromedp.WaitVisible(".notice.ok", chromedp.ByQuery))
		if got := srv.call(t, "GET", "/v1/api/referral/settings", nil)["referral_expiration_days"]; got != 45.0 {
			t.Errorf("saved expiration %v, want 45", got)
		}
	})

	rcv := newReceiver(t)
	t.Run("create a webhook, see the secret once, test it", func(t *testing.T) {
		act(t, ctx, chromedp.Click(`#nav a[href="#/webhooks"]`, chromedp.ByQuery), chromedp.WaitVisible("#wh-name", chromedp.ByQuery),
			chromedp.SendKeys("#wh-name", "receiver", chromedp.ByQuery), chromedp.SendKeys("#wh-url", rcv.URL, chromedp.ByQuery),
			chromedp.SendKeys("#wh-name", kb.Enter, chromedp.ByQuery))
		if got := text(t, ctx, "[data-secret]"); !strings.HasPrefix(got, "whsec_") {
			t.Fatalf("secret %q, want whsec_…", got)
		}
		var secrets int
		act(t, ctx, chromedp.Reload(), chromedp.WaitVisible("table", chromedp.ByQuery),
			chromedp.Evaluate(`document.querySelectorAll("[data-secret]").length`, &secrets))
		if secrets != 0 {
			t.Errorf("the secret shows again after a reload")
		}
		act(t, ctx, chromedp.Click(`table a`, chromedp.ByQuery), chromedp.WaitVisible(`//button[text()="Send test event"]`),
			chromedp.Click(`//button[text()="Send test event"]`), chromedp.WaitVisible(`[data-test-result="success"]`, chromedp.ByQuery),
			chromedp.WaitVisible(`[data-delivery] [data-attempt="1"]`, chromedp.ByQuery))
		if got := text(t, ctx, `[data-delivery] [data-attempt="1"]`); !strings.Contains(got, "200") {
			t.Errorf("attempt %q, want status 200", got)
		}
	})

	t.Run("retry a failed delivery", func(t *testing.T) {
		rcv.status.Store(http.StatusInternalServerError)
		act(t, ctx, chromedp.Click(`//button[text()="Send test event"]`), chromedp.WaitVisible(`[data-test-result="failure"]`, chromedp.ByQuery),
			chromedp.WaitVisible(`[data-state="failed"] button`, chromedp.ByQuery))
		rcv.status.Store(http.StatusOK)
		act(t, ctx, chromedp.Click(`[data-state="failed"] button`, chromedp.ByQuery))
		var ok bool
		for deadline := time.Now().Add(10 * time.Second); !ok && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			act(t, ctx, chromedp.Click(`//button[text()="Refresh"]`), chromedp.Sleep(100*time.Millisecond),
				chromedp.Evaluate(`!!document.querySelector('[data-delivery] [data-attempt="2"]') && document.querySelectorAll('[data-state="failed"]').length === 0`, &ok))
		}
		if !ok {
			t.Fatal("the retried delivery never showed a second, successful attempt")
		}
	})

	t.Run("narrow screen", func(t *testing.T) {
		narrow := newBrowser(t, srv.url, 390, 844)
		signIn(t, narrow, srv.url, srv.key)
		var overflow bool
		act(t, narrow, chromedp.WaitVisible(`[data-stat="total"]`, chromedp.ByQuery),
			chromedp.Evaluate(`document.documentElement.scrollWidth > window.innerWidth + 1`, &overflow))
		if overflow {
			t.Error("the overview scrolls sideways at 390 px")
		}
	})
}
