package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// TestConsoleReviewsAndProofs drives the reviewer's pages: a referral a
// fraud rule held (review_mode hold, same IP) is approved from the queue
// and leaves it; another is voided from its page; a referral's events are
// verified in the browser against the signed checkpoint, and a tampered
// proof, event or checkpoint gets the warning instead.
func TestConsoleReviewsAndProofs(t *testing.T) {
	srv := startConsoleServer(t)
	ctx := newBrowser(t, srv.url, 1280, 800)
	settings := srv.call(t, "GET", "/v1/api/referral/settings", nil)
	settings["review_mode"] = "hold"
	srv.call(t, "PUT", "/v1/api/referral/settings", settings)
	flagged := srv.call(t, "POST", "/v1/api/referral/create", map[string]any{"user_id": "rita", "ip": "203.0.113.7"})["referral_code"].(string)
	srv.call(t, "POST", "/v1/api/referral/milestone", map[string]any{"referral_code": flagged, "milestone": "signed_up",
		"referred_user_id": "sock", "referred_ip": "203.0.113.7"})
	done := srv.call(t, "POST", "/v1/api/referral/complete", map[string]any{"referral_code": flagged, "referred_ip": "203.0.113.7"})
	if rv, _ := done["referral"].(map[string]any)["review"].(map[string]any); rv == nil || rv["state"] != "open" {
		t.Fatalf("the same-IP referral has review %v, want an open one", done["referral"].(map[string]any)["review"])
	}
	signIn(t, ctx, srv.url, srv.key)

	t.Run("approve from the queue", func(t *testing.T) {
		item := fmt.Sprintf(`[data-review=%q]`, flagged)
		act(t, ctx, chromedp.Click(`#nav a[href="#/reviews"]`, chromedp.ByQuery), chromedp.WaitVisible(item, chromedp.ByQuery))
		if got := text(t, ctx, item); !strings.Contains(got, "same_ip") || !strings.Contains(got, "rita") {
			t.Errorf("queue item %q, want the referrer and the same_ip reason", got)
		}
		act(t, ctx, chromedp.SendKeys(item+" input", "known household", chromedp.ByQuery),
			chromedp.Click(item+` button:not(.danger)`, chromedp.ByQuery), chromedp.WaitVisible("main .notice", chromedp.ByQuery))
		if got := text(t, ctx, "main"); !strings.Contains(got, "Approved "+flagged) {
			t.Fatalf("after approving the page shows %q", got)
		}
		act(t, ctx, chromedp.WaitNotPresent(item, chromedp.ByQuery))
		if got := text(t, ctx, ".notice.ok"); !strings.Contains(got, "Approved "+flagged) {
			t.Errorf("after approving: %q", got)
		}
		var gone bool
		for deadline := time.Now().Add(10 * time.Second); !gone && time.Now().Before(deadline); {
			act(t, ctx, chromedp.Reload(), chromedp.WaitVisible("main .notice, main .reviews", chromedp.ByQuery),
				chromedp.Evaluate(`!document.querySelector('[data-review]')`, &gone))
		}
		if !gone {
			t.Error("the approved referral is still in the reloaded queue")
		}
		r := srv.call(t, "GET", "/v1/api/referral/"+flagged, nil)
		if rv, _ := r["review"].(map[string]any); rv == nil || rv["state"] != "approved" || r["reward_status"] == "held" {
			t.Errorf("after approving in the console: review %v, reward %v", r["review"], r["reward_status"])
		}
	})

	t.Run("void from a referral's page", func(t *testing.T) {
		code := srv.call(t, "POST", "/v1/api/referral/create", map[string]any{"user_id": "vic"})["referral_code"].(string)
		act(t, ctx, chromedp.Navigate(srv.url+"/#/referral/"+code), chromedp.WaitVisible("#void-reason", chromedp.ByQuery),
			chromedp.Click(`[data-form="void"] button`, chromedp.ByQuery), chromedp.WaitVisible(`[data-form="void"] .notice.error`, chromedp.ByQuery))
		if got := srv.call(t, "GET", "/v1/api/referral/"+code, nil)["status"]; got != "pending" {
			t.Fatalf("voiding without a reason left status %v", got)
		}
		act(t, ctx, chromedp.SendKeys("#void-reason", "test account", chromedp.ByQuery),
			chromedp.Click(`[data-form="void"] button`, chromedp.ByQuery), chromedp.WaitVisible("h1 .badge.voided", chromedp.ByQuery))
		r := srv.call(t, "GET", "/v1/api/referral/"+code, nil)
		if r["status"] != "voided" || r["void_reason"] != "test account" {
			t.Errorf("after voiding in the console: status %v, reason %v", r["status"], r["void_reason"])
		}
	})

	t.Run("verified against the checkpoint", func(t *testing.T) {
		size := waitReferralSealed(t, srv, flagged)
		act(t, ctx, chromedp.Navigate(srv.url+"/#/referral/"+flagged), chromedp.Reload(),
			chromedp.WaitVisible(`[data-verify="ok"], [data-verify="failed"], [data-verify="pending"]`, chromedp.ByQuery))
		got := text(t, ctx, "[data-verify]")
		if want := fmt.Sprintf("Verified against checkpoint %d", size); !strings.Contains(got, want) {
			t.Fatalf("mark %q, want %q", got, want)
		}
	})

	t.Run("a tampered trail is not verified", func(t *testing.T) {
		for name, tamper := range map[string]string{
			"proof":      `t.events[0].inclusion.proof[0] = btoa(String.fromCharCode(...new Uint8Array(32)))`,
			"event":      `t.events[1].metadata.request_id = 'forged'`,
			"checkpoint": `t.checkpoint = t.checkpoint.replace(/\n(\d+)\n/, (m, n) => '\n' + (Number(n) + 1) + '\n')`,
			"unsealed":   `delete t.events[2].inclusion`,
		} {
			var got string
			js := `(async () => {
  const { showVerification } = await import('/console/js/referral.js');
  const resp = await fetch('/v1/api/audit/referrals/` + flagged + `', { headers: { 'X-API-Key': sessionStorage.getItem('ledger.apiKey') } });
  const t = await resp.json();
  const clean = document.createElement('div');
  await showVerification(clean, structuredClone(t));
  ` + tamper + `;
  const el = document.querySelector('[data-verify]');
  await showVerification(el, t);
  return clean.dataset.verify + '|' + el.dataset.verify + '|' + el.textContent;
})()`
			act(t, ctx, chromedp.Evaluate(js, &got, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
			parts := strings.SplitN(got, "|", 3)
			want := "failed"
			if name == "unsealed" {
				want = "pending"
			}
			if len(parts) != 3 || parts[0] != "ok" || parts[1] != want || strings.Contains(parts[2], "Verified against") {
				t.Errorf("tampered %s: %q, want the untampered copy ok and the tampered one %s without the mark", name, got, want)
			}
		}
	})
}

// waitReferralSealed waits until every event of the referral has an inclusion
// proof in the audit trail and the checkpoint holds every event of the
// appspace, and returns the checkpoint's tree size.
func waitReferralSealed(t *testing.T, srv *consoleServer, code string) int {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		a := srv.call(t, "GET", "/v1/api/audit/referrals/"+code, nil)
		cp, _ := a["checkpoint"].(string)
		evs, _ := a["events"].([]any)
		sealed := cp != "" && len(evs) > 0
		for _, e := range evs {
			if e.(map[string]any)["inclusion"] == nil {
				sealed = false
			}
		}
		if !sealed {
			continue
		}
		var size int
		if err := json.Unmarshal([]byte(strings.Split(cp, "\n")[1]), &size); err != nil {
			t.Fatal(err)
		}
		// Every event of the appspace sealed: the checkpoint stays put.
		if all, _ := srv.call(t, "GET", "/v1/api/events?limit=1000", nil)["events"].([]any); len(all) == size {
			return size
		}
	}
	t.Fatalf("the events of %s were never all sealed into a checkpoint", code)
	return 0
}
