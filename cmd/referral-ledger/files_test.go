package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func openAt(tb testing.TB, dir string, log *slog.Logger) *Main {
	tb.Helper()
	m, err := Open(context.Background(), Config{Addr: "127.0.0.1:0", DataDir: dir, Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = m.Close() })
	return m
}

func TestDataFilesArePrivate(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	m := openAt(t, dir, nil)
	if _, err := m.access.CreateAppspace(context.Background(), "default"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.webhookKey(""); err != nil { // generates the key file
		t.Fatal(err)
	}
	want := map[string]os.FileMode{dir: 0o700}
	for _, name := range []string{"ledger.db", "ledger.db-wal", "ledger.db-shm", "webhook-secret.key"} {
		want[filepath.Join(dir, name)] = 0o600
	}
	for path, mode := range want {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != mode {
			t.Errorf("%s: mode %#o, want %#o", path, got, mode)
		}
	}
}

func TestKeyFileReadableByOthersIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "webhook-secret.key")
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	var logs bytes.Buffer
	m := openAt(t, dir, slog.New(slog.NewTextHandler(&logs, nil)))
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "chmod 700 "+dir) {
		t.Errorf("opening a data dir others may enter logged no warning with the fix:\n%s", logs.String())
	}
	_, err := m.webhookKey("")
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "chmod 600 "+path) {
		t.Fatalf("a key file of mode 0644: got %v, want an error naming %s and the fix (chmod 600)", err, path)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := m.webhookKey(""); err != nil {
		t.Errorf("after chmod 600: %v", err)
	}
}

func TestLimitFlags(t *testing.T) {
	t.Parallel()
	ok := limitFlags{AuthFailureLimit: 10, AuthFailureBurst: 20, MaxFollowStreams: 4, MaxStreams: 8, BodyTimeout: 30e9, WriteTimeout: 60e9}
	c, err := ok.config()
	if err != nil || c.AuthFailuresPerMinute != 10 || c.MaxFollowStreams != 4 || c.MaxStreams != 8 || c.Timeouts.Body != 30e9 || c.Timeouts.Write != 60e9 {
		t.Errorf("config() = %+v, %v", c, err)
	}
	bad := ok
	bad.MaxFollowStreams = 0
	if _, err := bad.config(); err == nil {
		t.Error("--max-follow-streams 0 accepted")
	}
	bad = ok
	bad.MaxStreams = 0
	if _, err := bad.config(); err == nil {
		t.Error("--max-streams 0 accepted")
	}
}
