package webhooks

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSealerRoundTrip(t *testing.T) {
	t.Parallel()
	s := newTestSealer(t, 1)
	secret := mustSecret(t)
	a, err := s.Seal(secret, "wh_1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Seal(secret, "wh_1")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Error("two seals of one secret are equal: the nonce is not random")
	}
	if !strings.HasPrefix(a, "v1:") || strings.Contains(a, strings.TrimPrefix(secret, SecretPrefix)) {
		t.Errorf("sealed = %q, want v1: and no plaintext", a)
	}
	for _, sealed := range []string{a, b} {
		got, err := s.Open(sealed, "wh_1")
		if err != nil {
			t.Fatal(err)
		}
		if got != secret {
			t.Errorf("Open = %q, want %q", got, secret)
		}
	}
}

func TestSealerOpenRefuses(t *testing.T) {
	t.Parallel()
	s := newTestSealer(t, 1)
	sealed, err := s.Seal("whsec_c2VjcmV0", "wh_1")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, "v1:"))
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(raw)
	flipped[len(flipped)-1] ^= 1

	tests := []struct {
		name   string
		sealer *Sealer
		sealed string
		aad    string
	}{
		{name: "another webhook's row", sealer: s, sealed: sealed, aad: "wh_2"},
		{name: "another key", sealer: newTestSealer(t, 2), sealed: sealed, aad: "wh_1"},
		{name: "altered ciphertext", sealer: s, sealed: "v1:" + base64.StdEncoding.EncodeToString(flipped), aad: "wh_1"},
		{name: "truncated", sealer: s, sealed: "v1:" + base64.StdEncoding.EncodeToString(raw[:20]), aad: "wh_1"},
		{name: "unknown version", sealer: s, sealed: "v2:" + strings.TrimPrefix(sealed, "v1:"), aad: "wh_1"},
		{name: "plaintext stored", sealer: s, sealed: "whsec_c2VjcmV0", aad: "wh_1"},
		{name: "not base64", sealer: s, sealed: "v1:***", aad: "wh_1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, err := tt.sealer.Open(tt.sealed, tt.aad); err == nil {
				t.Errorf("Open = %q, want an error", got)
			}
		})
	}
}

func TestNewSealerKeyLength(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 16, 24, 31, 33} {
		if _, err := NewSealer(make([]byte, n)); err == nil {
			t.Errorf("NewSealer(%d bytes): no error", n)
		}
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{7}, 32)
	enc := base64.StdEncoding.EncodeToString(key)
	tests := []struct {
		name    string
		in      string
		want    []byte
		wantErr bool
	}{
		{name: "base64 of 32 bytes", in: enc, want: key},
		{name: "trailing newline", in: enc + "\n", want: key},
		{name: "empty", in: "", wantErr: true},
		{name: "16 bytes", in: base64.StdEncoding.EncodeToString(key[:16]), wantErr: true},
		{name: "not base64", in: "correct horse battery staple", wantErr: true},
		{name: "hex instead of base64", in: strings.Repeat("07", 32), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseKey(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseKey error = %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("ParseKey (-got +want):\n%s", diff)
			}
		})
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data", "webhook-secret.key")
	key, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != 32 {
		t.Fatalf("key is %d bytes, want 32", len(key))
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("mode = %v, want 0600", got)
	}
	again, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(again, key); diff != "" {
		t.Errorf("second load (-got +want):\n%s", diff)
	}
	// The key works with a Sealer.
	if _, err := NewSealer(key); err != nil {
		t.Error(err)
	}
	assertOnlyFile(t, filepath.Dir(path), filepath.Base(path))
}

func TestLoadOrCreateKeyKeepsExistingFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name    string
		content string
		want    []byte
		wantErr bool
	}{
		{name: "configured key", content: base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)) + "\n", want: bytes.Repeat([]byte{9}, 32)},
		{name: "damaged file", content: "garbage", wantErr: true},
		{name: "empty file", content: "", wantErr: true},
	}
	for i, tt := range tests {
		path := filepath.Join(dir, "key"+string(rune('a'+i)))
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := LoadOrCreateKey(path)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("key (-got +want):\n%s", diff)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(after) != tt.content {
				t.Errorf("file now %q, want it untouched %q", after, tt.content)
			}
		})
	}
}

func TestLoadOrCreateKeyConcurrentFirstStarts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "webhook-secret.key")
	const starts = 16
	keys := make([][]byte, starts)
	errs := make([]error, starts)
	var wg sync.WaitGroup
	for i := range starts {
		wg.Go(func() { keys[i], errs[i] = LoadOrCreateKey(path) })
	}
	wg.Wait()
	stored, err := readKeyFile(t, path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range starts {
		if errs[i] != nil {
			t.Fatalf("start %d: %v", i, errs[i])
		}
		if diff := cmp.Diff(keys[i], stored); diff != "" {
			t.Errorf("start %d got another key than the file's (-got +want):\n%s", i, diff)
		}
	}
	assertOnlyFile(t, dir, filepath.Base(path))
}

// readKeyFile reads and parses the key file independently of LoadOrCreateKey.
func readKeyFile(tb testing.TB, path string) ([]byte, error) {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseKey(string(b))
}

func assertOnlyFile(tb testing.TB, dir, name string) {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if diff := cmp.Diff(got, []string{name}); diff != "" {
		tb.Errorf("files in %s (-got +want), no temporary file may remain:\n%s", dir, diff)
	}
}

func newTestSealer(tb testing.TB, fill byte) *Sealer {
	tb.Helper()
	s, err := NewSealer(bytes.Repeat([]byte{fill}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
