package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/audit"
	"github.com/referral-ledger/referral-ledger/adapters/httpapi"
	"github.com/referral-ledger/referral-ledger/projections"
)

// AuditConfig is serve's verifiable-ledger configuration.
type AuditConfig struct {
	// SigningKey is the note signer key of checkpoints; the embedded
	// profile generates one into the data directory when unset.
	SigningKey string
	// Interval is the least time between two checkpoints of an appspace
	// (one second when 0).
	Interval time.Duration
}

// auditFlags are serve's audit flags.
type auditFlags struct {
	// CheckpointInterval is for tests, which want many checkpoints fast.
	CheckpointInterval   time.Duration `name:"checkpoint-interval" env:"LEDGER_CHECKPOINT_INTERVAL" default:"1s" hidden:"" help:"Least time between two checkpoints of an appspace."`
	CheckpointSigningKey string        `name:"checkpoint-signing-key" env:"LEDGER_CHECKPOINT_SIGNING_KEY" help:"Note signer key of the audit checkpoints; required with --database-url (embedded: generated into the data directory; make one with: referral-ledger audit keygen)."`
}

// signingKeyFile is the embedded profile's checkpoint signing key.
const signingKeyFile = "checkpoint-signing.key"

// ledger is the verifiable ledger's parts: the sealer's runner, the
// notary that signs checkpoints, and the prover behind the endpoints.
type ledger struct {
	runner *projections.Runner
	notary *audit.Notary
	prover *audit.Prover
}

// openAudit builds the sealer, the notary and the prover.
func (m *Main) openAudit() (*ledger, error) {
	key, err := m.signingKey(m.cfg.Audit.SigningKey)
	if err != nil {
		return nil, err
	}
	notary, err := audit.NewNotary(audit.NotaryConfig{DB: m.write, Read: m.read, Events: m.store, Key: key,
		Interval: m.cfg.Audit.Interval, Logger: m.log})
	if err != nil {
		return nil, err
	}
	runner, err := projections.NewRunner(m.store, m.write, audit.NewSealer(m.read), audit.RunnerConfig(m.write, m.log))
	if err != nil {
		return nil, err
	}
	return &ledger{runner: runner, notary: notary, prover: audit.NewProver(m.read, key)}, nil
}

// ready is /readyz's "ledger" check: failing with "tampered" once stored
// events no longer hash to a sealed tree; degraded (still ready: commands
// and reads are served, checkpoints wait) while the start-up whole-tree
// check runs.
func (l *ledger) ready(ctx context.Context) error {
	why, err := l.prover.Tampered(ctx)
	if err != nil {
		return err
	}
	if why != "" {
		return httpapi.Failing{Reason: "tampered"}
	}
	if checking, done, total := l.notary.Checking(); checking {
		return httpapi.Degraded{Reason: fmt.Sprintf("checking (%d of %d leaves)", done, total)}
	}
	return nil
}

// signingKey is the configured key, or the embedded profile's key file.
func (m *Main) signingKey(configured string) (*audit.Key, error) {
	if configured != "" {
		key, err := audit.ParseKey(configured)
		if err != nil {
			return nil, fmt.Errorf("LEDGER_CHECKPOINT_SIGNING_KEY: %w", err)
		}
		return key, nil
	}
	if m.cfg.DatabaseURL != "" {
		return nil, errors.New("LEDGER_CHECKPOINT_SIGNING_KEY is required with --database-url: every replica must " +
			"sign checkpoints with the same key (generate one with: referral-ledger audit keygen)")
	}
	path := filepath.Join(m.cfg.DataDir, signingKeyFile)
	if err := checkKeyFile(path, "checkpoint signing key", "signs the audit checkpoints"); err != nil {
		return nil, err
	}
	text, err := loadOrCreateSigningKey(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint signing key: %w", err)
	}
	key, err := audit.ParseKey(text)
	if err != nil {
		return nil, fmt.Errorf("checkpoint signing key %s: %w", path, err)
	}
	return key, nil
}

// loadOrCreateSigningKey reads the key file, or creates it 0600 with a new
// key: written whole to a temporary file, then linked into place, so a
// crash leaves no half key and two processes agree on one key.
func loadOrCreateSigningKey(path string) (string, error) {
	if b, err := os.ReadFile(path); !errors.Is(err, fs.ErrNotExist) {
		return strings.TrimSpace(string(b)), err
	}
	skey, _, err := audit.GenerateKey()
	if err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".checkpoint-signing-*") // 0600
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(skey + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if err = errors.Join(err, tmp.Close()); err != nil {
		return "", err
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		b, err := os.ReadFile(path) // another process created it first
		return strings.TrimSpace(string(b)), err
	} else if err != nil {
		return "", err
	}
	return skey, nil
}
