package webhooks

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// sealedPrefix versions the sealed form so the scheme can change without
// guessing what a stored value is.
const sealedPrefix = "v1:"

// Sealer encrypts webhook secrets at rest with AES-256-GCM: a random 12-byte
// nonce per seal, and the webhook id as additional data so a ciphertext
// cannot be moved to another webhook's row. It is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("webhook secret key: %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("webhook secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("webhook secret key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext bound to aad (the webhook id) and returns
// "v1:" + base64(nonce || ciphertext || tag).
func (s *Sealer) Seal(plaintext, aad string) (string, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal webhook secret: %w", err)
	}
	out := s.aead.Seal(nonce, nonce, []byte(plaintext), []byte(aad))
	return sealedPrefix + base64.StdEncoding.EncodeToString(out), nil
}

// Open decrypts a value from Seal. It fails when the value was sealed with
// another key or for another aad, or was altered.
func (s *Sealer) Open(sealed, aad string) (string, error) {
	enc, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return "", errors.New("open webhook secret: unknown format")
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(raw) < s.aead.NonceSize()+s.aead.Overhead() {
		return "", errors.New("open webhook secret: malformed value")
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(aad))
	if err != nil {
		return "", errors.New("open webhook secret: wrong key, wrong webhook or altered value")
	}
	return string(plain), nil
}

// ParseKey decodes a configured key (LEDGER_WEBHOOK_SECRET_KEY): the
// standard base64 encoding of 32 bytes, surrounding white space ignored.
func ParseKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("webhook secret key is not base64 (make one with: head -c 32 /dev/urandom | base64)")
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("webhook secret key is %d bytes, want 32 (make one with: head -c 32 /dev/urandom | base64)", len(key))
	}
	return key, nil
}

// LoadOrCreateKey returns the key stored at path, creating it on first use:
// 32 random bytes, base64, mode 0600. The file is written to a temporary
// name and hard-linked into place, which fails rather than replaces when the
// file exists, so concurrent first starts all end with the one key that won.
func LoadOrCreateKey(path string) ([]byte, error) {
	if key, err := readKey(path); !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("webhook secret key: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("webhook secret key: %w", err)
	}
	tmp, err := writeTemp(dir, []byte(base64.StdEncoding.EncodeToString(key)+"\n"))
	if err != nil {
		return nil, fmt.Errorf("webhook secret key: %w", err)
	}
	defer os.Remove(tmp)
	switch err := os.Link(tmp, path); {
	case errors.Is(err, fs.ErrExist):
		return readKey(path) // another process created it first
	case err != nil:
		return nil, fmt.Errorf("webhook secret key: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("webhook secret key: %w", err)
	}
	return key, nil
}

func readKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

// writeTemp writes data to a new 0600 file in dir, synced to disk, and
// returns its name.
func writeTemp(dir string, data []byte) (name string, err error) {
	f, err := os.CreateTemp(dir, ".webhook-key-*")
	if err != nil {
		return "", err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return "", err
	}
	if _, err := f.Write(data); err != nil {
		return "", err
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	return f.Name(), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return err
	}
	return d.Close()
}
