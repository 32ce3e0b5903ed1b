package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/referral-ledger/referral-ledger/adapters/audit"
	"github.com/referral-ledger/referral-ledger/domain"
)

// reviewLog is an appspace's log written as an events export, and the
// checkpoints of its prefixes signed by one key.
type reviewLog struct {
	t        *testing.T
	dir      string
	app      string
	key      *audit.Key
	verifier string
	lines    []string // the export's lines, one event each
}

func newReviewLog(t *testing.T, app string, n int) *reviewLog {
	t.Helper()
	skey, vkey, err := audit.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	key, err := audit.ParseKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	l := &reviewLog{t: t, dir: t.TempDir(), app: app, key: key, verifier: vkey}
	for i := range n {
		l.lines = append(l.lines, l.line(i, "ana"))
	}
	return l
}

// line is event i of the log, as an export line.
func (l *reviewLog) line(i int, who string) string {
	b, err := json.Marshal(map[string]any{"position": i + 1, "id": fmt.Sprintf("ev-%04d", i),
		"stream": domain.ReferralStream(l.app, fmt.Sprintf("CODE%04d", i/2)), "version": i%2 + 1,
		"type": "ReferralCreated", "recorded_at": "2026-04-08T14:30:00.000Z",
		"data": map[string]any{"referrer_id": who, "n": i}, "metadata": map[string]any{"request_id": "r"}})
	if err != nil {
		l.t.Fatal(err)
	}
	return string(b)
}

// tree is the tree of lines' events.
func treeOf(t *testing.T, lines []string) tlog.Tree {
	t.Helper()
	var r audit.Rebuild
	if err := r.AddLines(strings.NewReader(strings.Join(lines, "\n")+"\n"), "", int64(len(lines)), nil); err != nil {
		t.Fatal(err)
	}
	h, err := tlog.TreeHash(r.Size(), &r)
	if err != nil {
		t.Fatal(err)
	}
	return tlog.Tree{N: r.Size(), Hash: h}
}

// checkpoint writes the signed checkpoint of lines to a file.
func (l *reviewLog) checkpoint(name, app string, lines []string) string {
	l.t.Helper()
	msg, err := l.key.Sign(audit.Origin(app), treeOf(l.t, lines))
	if err != nil {
		l.t.Fatal(err)
	}
	return l.write(name, string(msg))
}

func (l *reviewLog) write(name, text string) string {
	l.t.Helper()
	path := filepath.Join(l.dir, name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		l.t.Fatal(err)
	}
	return path
}

func (l *reviewLog) export(name string, lines []string) string {
	l.t.Helper()
	return l.write(name, strings.Join(lines, "\n")+"\n")
}

func (l *reviewLog) verify(export, cp string, more ...string) error {
	l.t.Helper()
	_, err := cliRun(l.t, nil, append([]string{"audit", "verify", "--export", export, "--checkpoint", cp,
		"--verifier-key", l.verifier}, more...)...)
	return err
}

// TestReviewAuditVerifyOfflineExports: offline verify accepts the export
// of the checkpoint's log (and one with events past it), and refuses a
// truncated one, one with a line repeated, two lines swapped, an event
// edited, a checkpoint of another appspace's log or one signed by
// another key.
func TestReviewAuditVerifyOfflineExports(t *testing.T) {
	t.Parallel()
	l := newReviewLog(t, "as_rv", 300)
	good := l.lines[:260]
	cp := l.checkpoint("cp", l.app, good)
	if err := l.verify(l.export("good.jsonl", good), cp); err != nil {
		t.Fatalf("the checkpoint's own export: %v", err)
	}
	if err := l.verify(l.export("longer.jsonl", l.lines), cp); err != nil {
		t.Errorf("an export with events after the checkpoint's: %v", err)
	}
	other := newReviewLog(t, "as_zz", 300) // another appspace, lines of its own
	mixed := append(append([]string{}, other.lines[:5]...), good...)
	if err := l.verify(l.export("mixed.jsonl", mixed), cp); err != nil {
		t.Errorf("an export of two appspaces: %v", err)
	}
	swapped := append([]string{}, good...)
	swapped[3], swapped[4] = swapped[4], swapped[3]
	edited := append([]string{}, good...)
	edited[200] = l.line(200, "mallory")
	bad := map[string][]string{
		"truncated":         good[:259],
		"last line cut":     append(append([]string{}, good[:259]...), good[259][:40]),
		"a line repeated":   append(append(append([]string{}, good[:10]...), good[9]), good[10:]...),
		"two lines swapped": swapped,
		"an event edited":   edited,
		"empty":             {},
	}
	for name, lines := range bad {
		if err := l.verify(l.export(strings.ReplaceAll(name, " ", "-")+".jsonl", lines), cp); err == nil {
			t.Errorf("an export with %s verified", name)
		}
	}
	// The same events under another appspace's checkpoint (same key).
	if err := l.verify(l.export("good2.jsonl", good), l.checkpoint("cp-other", "as_zz", good)); err == nil {
		t.Error("an export verified against another appspace's checkpoint")
	}
	// --appspace names the log the checkpoint must be of, offline too.
	if err := l.verify(l.export("good4.jsonl", good), cp, "--appspace", l.app); err != nil {
		t.Errorf("--appspace %s, its own checkpoint: %v", l.app, err)
	}
	otherCP := l.checkpoint("cp-zz", other.app, other.lines[:5]) // signed by the same key
	if err := l.verify(l.export("mixed2.jsonl", mixed), otherCP, "--appspace", l.app); err == nil {
		t.Errorf("--appspace %s: another appspace's checkpoint (and its events) verified", l.app)
	}
	stranger := newReviewLog(t, "as_rv", 0)
	stranger.dir = l.dir
	if err := l.verify(l.export("good3.jsonl", good), stranger.checkpoint("cp-stranger", l.app, good)); err == nil {
		t.Error("a checkpoint signed by another key verified")
	}
}

// TestReviewAuditVerifyOfflineTrusted: offline verify with --trusted holds
// the checkpoint to the trusted one as online verify does: it must extend
// it (not be older, nor of a forked log, nor of another appspace), and it
// then replaces it.
func TestReviewAuditVerifyOfflineTrusted(t *testing.T) {
	t.Parallel()
	l := newReviewLog(t, "as_rv", 300)
	export := l.export("all.jsonl", l.lines)
	cp := l.checkpoint("cp", l.app, l.lines[:260])
	forked := append(append([]string{}, l.lines[:100]...), l.line(100, "mallory"))
	cases := []struct {
		name, trusted string
		ok            bool
	}{
		{"none yet (trust on first use)", filepath.Join(l.dir, "absent"), true},
		{"older and consistent", l.checkpoint("t-older", l.app, l.lines[:100]), true},
		{"the same", l.checkpoint("t-same", l.app, l.lines[:260]), true},
		{"newer", l.checkpoint("t-newer", l.app, l.lines[:280]), false},
		{"of a forked log", l.checkpoint("t-forked", l.app, forked), false},
		{"of the same size, forked", l.checkpoint("t-forked-same", l.app,
			append(append([]string{}, l.lines[:259]...), l.line(259, "mallory"))), false},
		{"of another appspace", l.checkpoint("t-other", "as_zz", l.lines[:100]), false},
		{"not a checkpoint", l.write("t-junk", "junk\n"), false},
	}
	for _, c := range cases {
		err := l.verify(export, cp, "--trusted", c.trusted)
		if c.ok != (err == nil) {
			t.Errorf("trusted checkpoint %s: %v, want ok %v", c.name, err, c.ok)
		}
		saved, _ := os.ReadFile(c.trusted)
		want, _ := os.ReadFile(cp)
		if c.ok && string(saved) != string(want) {
			t.Errorf("trusted checkpoint %s: not replaced with the verified one", c.name)
		}
		if !c.ok && string(saved) == string(want) {
			t.Errorf("trusted checkpoint %s: replaced though refused", c.name)
		}
	}
}
