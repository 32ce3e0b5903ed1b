package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/referral-ledger/referral-ledger/domain"
)

// chromiumPath is Debian's chromium, which CI installs.
const chromiumPath = "/usr/bin/chromium"

// consoleServer is serve on a fresh embedded store, with the console on
// and private webhook targets allowed (the receivers are local).
type consoleServer struct {
	url, key string
	keyID    string // the server key's ID
	dataDir  string
}

func startConsoleServer(tb testing.TB) *consoleServer {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := tb.TempDir()
	m, err := Open(ctx, Config{Addr: "127.0.0.1:0", DataDir: dir, Out: io.Discard, Console: true,
		Webhooks: WebhookConfig{AllowPrivate: true, RetrySchedule: "1s", PollInterval: 20 * time.Millisecond}})
	if err != nil {
		tb.Fatal(err)
	}
	as, err := m.access.CreateAppspace(ctx, "default")
	if err != nil {
		tb.Fatal(err)
	}
	k, key, err := m.access.CreateKey(ctx, as.ID, domain.RoleServer, "console test")
	if err != nil {
		tb.Fatal(err)
	}
	addr, err := m.Listen()
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && ctx.Err() == nil {
			tb.Error(err)
		}
		m.Close()
	})
	return &consoleServer{url: "http://" + addr.String(), key: key, keyID: k.ID, dataDir: dir}
}

// call sends an API request with the server key and decodes the answer.
func (s *consoleServer) call(tb testing.TB, method, path string, body any) map[string]any {
	tb.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, s.url+path, bytes.NewReader(raw))
	if body == nil {
		req, _ = http.NewRequest(method, s.url+path, nil)
	}
	req.Header.Set("X-API-Key", s.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode >= 300 {
		tb.Fatalf("%s %s: %d %v %v", method, path, resp.StatusCode, out, err)
	}
	return out
}

// newBrowser starts headless chromium for the test, and fails the test on
// any console error, uncaught exception, CSP violation or request to a host
// other than the server's.
func newBrowser(t *testing.T, serverURL string, width, height int) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("chromium is not installed (apt-get install chromium); CI runs these tests")
		}
		t.Fatalf("CI is set but %s is missing: %v", chromiumPath, err)
	}
	// Not t.TempDir: chromium may still be writing its profile when the
	// test's cleanup runs, so the directory goes after the browser, best effort.
	profile, err := os.MkdirTemp("", "console-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.UserDataDir(profile),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.WindowSize(width, height))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		_ = chromedp.Cancel(ctx) // closes the browser and waits for it
		cancel()
		cancelAlloc()
		_ = os.RemoveAll(profile)
	})
	host := strings.TrimPrefix(serverURL, "http://")
	var mu sync.Mutex
	var problems []string
	problem := func(format string, args ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	chromedp.ListenTarget(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			problem("exception: %s", ev.ExceptionDetails.Error())
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError || ev.Type == runtime.APITypeAssert || ev.Type == runtime.APITypeWarning {
				problem("console.%s: %v", ev.Type, ev.Args)
			}
		case *log.EventEntryAdded:
			// Network entries are the API's refusals the tests provoke on
			// purpose (a bad key, a bad setting); the rest (CSP, JS) are bugs.
			if ev.Entry.Level == log.LevelError && ev.Entry.Source != log.SourceNetwork {
				problem("log %s: %s", ev.Entry.Source, ev.Entry.Text)
			}
		case *network.EventRequestWillBeSent:
			u, err := url.Parse(ev.Request.URL)
			if err != nil || (u.Host != host && u.Scheme != "data" && u.Scheme != "blob") {
				problem("request to another host: %s", ev.Request.URL)
			}
		}
	})
	if err := chromedp.Run(ctx, network.Enable(), log.Enable(), runtime.Enable()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range problems {
			t.Errorf("browser: %s", p)
		}
	})
	return ctx
}

// signIn opens the console and signs in with key.
func signIn(t *testing.T, ctx context.Context, serverURL, key string) {
	t.Helper()
	act(t, ctx, chromedp.Navigate(serverURL+"/"),
		chromedp.WaitVisible("#api-key", chromedp.ByQuery),
		chromedp.SendKeys("#api-key", key, chromedp.ByQuery),
		chromedp.SendKeys("#api-key", kb.Enter, chromedp.ByQuery),
		chromedp.WaitVisible("#nav a", chromedp.ByQuery))
}

// act runs actions, each call bounded so a missing element fails the step
// rather than the whole suite.
func act(t *testing.T, ctx context.Context, actions ...chromedp.Action) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

// text reads an element's text content.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	var s string
	act(t, ctx, chromedp.WaitVisible(sel, chromedp.ByQuery), chromedp.Text(sel, &s, chromedp.ByQuery))
	return strings.TrimSpace(s)
}

// receiver is a local webhook endpoint whose answer the test switches.
type receiver struct {
	*httptest.Server
	status atomic.Int32
	hits   atomic.Int32
}

func newReceiver(tb testing.TB) *receiver {
	r := &receiver{}
	r.status.Store(http.StatusOK)
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		w.WriteHeader(int(r.status.Load()))
		fmt.Fprintf(w, "receiver says %d", r.status.Load())
	}))
	tb.Cleanup(r.Close)
	return r
}
