package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// KeyName is the name generated signing keys carry; it names the signer
// on every checkpoint's signature line.
const KeyName = "referral-ledger"

// GenerateKey returns a new Ed25519 note signer key and its verifier key.
func GenerateKey() (signer, verifier string, err error) {
	return note.GenerateKey(rand.Reader, KeyName)
}

// Key signs checkpoints.
type Key struct {
	signer   note.Signer
	verifier string
}

// ParseKey reads a note signer key (PRIVATE+KEY+name+hash+keydata) and
// derives its verifier key.
func ParseKey(skey string) (*Key, error) {
	skey = strings.TrimSpace(skey)
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, errors.New("not a note signer key (PRIVATE+KEY+name+hash+keydata; make one with: referral-ledger audit keygen)")
	}
	// PRIVATE+KEY+name+hash+keydata: the base64 key data may hold '+'.
	parts := strings.SplitN(skey, "+", 5)
	seed, err := base64.StdEncoding.DecodeString(parts[len(parts)-1])
	if err != nil || len(seed) != 33 || seed[0] != 1 {
		return nil, errors.New("not an Ed25519 note signer key")
	}
	vkey, err := note.NewEd25519VerifierKey(s.Name(), ed25519Public(seed[1:]))
	if err != nil {
		return nil, err
	}
	return &Key{signer: s, verifier: vkey}, nil
}

// VerifierKey is the key's note verifier key (name+hash+keydata).
func (k *Key) VerifierKey() string { return k.verifier }

// Origin is the checkpoint origin of an appspace's log.
func Origin(appspaceID string) string { return "referral-ledger/" + appspaceID }

// CheckpointText is the C2SP tlog-checkpoint body of a tree.
func CheckpointText(origin string, tree tlog.Tree) []byte {
	return fmt.Appendf(nil, "%s\n%d\n%s\n", origin, tree.N, base64.StdEncoding.EncodeToString(tree.Hash[:]))
}

// ParseCheckpoint reads a checkpoint body: its origin and tree. Extension
// lines after the root hash are allowed, as the format says.
func ParseCheckpoint(text string) (origin string, tree tlog.Tree, err error) {
	lines := strings.SplitN(text, "\n", 4)
	if len(lines) < 4 || lines[0] == "" {
		return "", tree, errors.New("malformed checkpoint: want origin, tree size and root hash lines")
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != lines[1] {
		return "", tree, fmt.Errorf("malformed checkpoint tree size %q", lines[1])
	}
	h, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(h) != tlog.HashSize {
		return "", tree, fmt.Errorf("malformed checkpoint root hash %q", lines[2])
	}
	tree.N = n
	copy(tree.Hash[:], h)
	return lines[0], tree, nil
}

// Sign returns the signed note of an appspace's tree.
func (k *Key) Sign(origin string, tree tlog.Tree) ([]byte, error) {
	return note.Sign(&note.Note{Text: string(CheckpointText(origin, tree))}, k.signer)
}

// OpenCheckpoint verifies a signed checkpoint with verifierKey and checks
// that it is for origin; it returns the tree the checkpoint commits to.
func OpenCheckpoint(msg []byte, verifierKey, origin string) (tlog.Tree, error) {
	v, err := note.NewVerifier(strings.TrimSpace(verifierKey))
	if err != nil {
		return tlog.Tree{}, fmt.Errorf("verifier key: %w", err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return tlog.Tree{}, fmt.Errorf("checkpoint signature: %w", err)
	}
	got, tree, err := ParseCheckpoint(n.Text)
	if err != nil {
		return tlog.Tree{}, err
	}
	if got != origin {
		return tlog.Tree{}, fmt.Errorf("checkpoint is for %q, not %q", got, origin)
	}
	return tree, nil
}

func ed25519Public(seed []byte) []byte {
	return ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
}
