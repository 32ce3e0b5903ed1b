// Command screenshots writes a PNG of each console page at a desktop
// (1280×800) and a phone (390×844) size, for a person to look over.
//
//	go run ./scripts/screenshots -url http://127.0.0.1:8080 -key KEY [-seed] OUTDIR
//
// It drives Debian's chromium (/usr/bin/chromium) headless. With -seed it
// first creates a few referrals and a webhook through the API, so the pages
// have something to show.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:8080", "the ledger's URL")
	key := flag.String("key", os.Getenv("LEDGER_API_KEY"), "a server API key (default $LEDGER_API_KEY)")
	seed := flag.Bool("seed", false, "create sample referrals and a webhook first")
	flag.Parse()
	if flag.NArg() != 1 || *key == "" {
		fmt.Fprintln(os.Stderr, "usage: screenshots -url URL -key KEY [-seed] OUTDIR")
		os.Exit(2)
	}
	if err := run(*base, *key, *seed, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "screenshots:", err)
		os.Exit(1)
	}
}

func run(base, key string, seed bool, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var code, flagged, webhook string
	if seed {
		var err error
		if code, flagged, webhook, err = seedData(base, key); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		time.Sleep(2 * time.Second) // let the projections catch up and the sealer sign a checkpoint
	} else {
		code, flagged, webhook = existing(base, key)
	}
	verified := `[data-verify="ok"], [data-verify="failed"], [data-verify="pending"], .notice`
	pages := []struct{ name, hash, ready string }{
		{"overview", "#/", ".chart"},
		{"referrals", "#/referrals", "#f-status"},
		{"referral", "#/referral/" + code, verified},
		{"referral-flagged", "#/referral/" + flagged, verified},
		{"reviews", "#/reviews", ".reviews, main .notice"},
		{"leaderboard", "#/leaderboard", "h1"},
		{"settings", "#/settings", "#s-referral_expiration_days"},
		{"webhooks", "#/webhooks", "#wh-name"},
		{"webhook", "#/webhook/" + webhook, "#log-h"},
		{"events", "#/events", "#ev-type"},
	}
	for _, size := range []struct {
		name string
		w, h int64
	}{{"desktop", 1280, 800}, {"phone", 390, 844}} {
		if err := shoot(base, key, dir, size.name, size.w, size.h, pages); err != nil {
			return err
		}
	}
	return nil
}

func shoot(base, key, dir, size string, w, h int64, pages []struct{ name, hash, ready string }) error {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath("/usr/bin/chromium"),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.WindowSize(int(w), int(h)))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var signIn []byte
	err := chromedp.Run(ctx, chromedp.EmulateViewport(w, h), chromedp.Navigate(base+"/"),
		chromedp.WaitVisible("#api-key", chromedp.ByQuery), chromedp.FullScreenshot(&signIn, 100),
		chromedp.SendKeys("#api-key", key, chromedp.ByQuery), chromedp.SendKeys("#api-key", kb.Enter, chromedp.ByQuery),
		chromedp.WaitVisible("#nav a", chromedp.ByQuery))
	if err != nil {
		return fmt.Errorf("sign in: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "signin-"+size+".png"), signIn, 0o644); err != nil {
		return err
	}
	for _, p := range pages {
		var png []byte
		err := chromedp.Run(ctx, chromedp.Navigate(base+"/"+p.hash), chromedp.WaitVisible(p.ready, chromedp.ByQuery),
			chromedp.Sleep(300*time.Millisecond), chromedp.FullScreenshot(&png, 100))
		if err != nil {
			return fmt.Errorf("%s at %s: %w", p.name, size, err)
		}
		if err := os.WriteFile(filepath.Join(dir, p.name+"-"+size+".png"), png, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// seedData creates referrals in several states, two a fraud rule holds
// for review, and a webhook; it returns a completed referral's code, a
// flagged one's and the webhook's id.
func seedData(base, key string) (code, flagged, webhook string, err error) {
	call := func(method, path string, body any) (map[string]any, error) {
		raw, _ := json.Marshal(body)
		req, err := http.NewRequest(method, base+path, bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		req.Header.Set("X-API-Key", key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode >= 300 {
			return nil, fmt.Errorf("%s %s: %d %v %v", method, path, resp.StatusCode, out, err)
		}
		return out, nil
	}
	if _, err := call("PUT", "/v1/api/referral/settings", map[string]any{"reward_type": "credit", "reward_value": "$5",
		"referral_milestones": []string{"signed_up", "first_order", "completed"}}); err != nil {
		return "", "", "", err
	}
	for i := range 12 {
		out, err := call("POST", "/v1/api/referral/create", map[string]any{"user_id": fmt.Sprintf("user_%02d", i%5), "user_name": fmt.Sprintf("User %d", i%5)})
		if err != nil {
			return "", "", "", err
		}
		c := out["referral_code"].(string)
		if i%3 == 0 {
			if _, err := call("POST", "/v1/api/referral/milestone", map[string]any{"referral_code": c, "milestone": "signed_up", "referred_user_id": fmt.Sprintf("friend_%d_%d", i, time.Now().UnixNano())}); err != nil {
				return "", "", "", err
			}
			if _, err := call("POST", "/v1/api/referral/complete", map[string]any{"referral_code": c, "milestone": "completed"}); err != nil {
				return "", "", "", err
			}
			code = c
		}
	}
	if flagged, err = seedFlagged(call); err != nil {
		return "", "", "", err
	}
	wh, err := call("POST", "/v1/api/webhooks", map[string]any{"name": "Billing", "url": "http://127.0.0.1:9/hook",
		"events": []string{"referral.completed"}, "active": true})
	if err != nil {
		return "", "", "", err
	}
	webhook = wh["id"].(string)
	_, err = call("POST", "/v1/api/webhooks/"+webhook+"/test", nil)
	return code, flagged, webhook, err
}

// seedFlagged turns review_mode to hold and completes two referrals whose
// referee shares the referrer's IP address, so the same-IP rule holds
// them for review; it returns the last one's code.
func seedFlagged(call func(method, path string, body any) (map[string]any, error)) (string, error) {
	if _, err := call("PUT", "/v1/api/referral/settings", map[string]any{"review_mode": "hold"}); err != nil {
		return "", err
	}
	var code string
	for i, user := range []string{"user_10", "user_11"} {
		ip := fmt.Sprintf("203.0.113.%d", 10+i)
		out, err := call("POST", "/v1/api/referral/create", map[string]any{"user_id": user, "ip": ip})
		if err != nil {
			return "", err
		}
		code = out["referral_code"].(string)
		if _, err := call("POST", "/v1/api/referral/milestone", map[string]any{"referral_code": code, "milestone": "signed_up",
			"referred_user_id": fmt.Sprintf("friend_%s_%d", user, time.Now().UnixNano()), "referred_ip": ip}); err != nil {
			return "", err
		}
		if _, err := call("POST", "/v1/api/referral/complete", map[string]any{"referral_code": code, "milestone": "completed",
			"referred_ip": ip}); err != nil {
			return "", err
		}
	}
	return code, nil
}

// existing finds a referral, a flagged one and a webhook to show when not
// seeding.
func existing(base, key string) (code, flagged, webhook string) {
	get := func(path string, v any) {
		req, err := http.NewRequest("GET", base+path, nil)
		if err != nil {
			return
		}
		req.Header.Set("X-API-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		_ = json.NewDecoder(resp.Body).Decode(v) // empty pages show their empty state
	}
	var refs struct {
		Referrals []struct {
			Code string `json:"referral_code"`
		} `json:"referrals"`
	}
	var whs struct {
		Webhooks []struct {
			ID string `json:"id"`
		} `json:"webhooks"`
	}
	get("/v1/api/referrals?status=completed&limit=1", &refs)
	get("/v1/api/webhooks", &whs)
	var reviews struct {
		Reviews []struct {
			Code string `json:"referral_code"`
		} `json:"reviews"`
	}
	get("/v1/api/reviews?state=open&limit=1", &reviews)
	if len(refs.Referrals) > 0 {
		code = refs.Referrals[0].Code
	}
	if len(reviews.Reviews) > 0 {
		flagged = reviews.Reviews[0].Code
	}
	if len(whs.Webhooks) > 0 {
		webhook = whs.Webhooks[0].ID
	}
	return code, flagged, webhook
}
