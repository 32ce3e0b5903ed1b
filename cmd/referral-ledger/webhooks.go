package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/referral-ledger/referral-ledger/adapters/ssrf"
	"github.com/referral-ledger/referral-ledger/adapters/webhooks"
	"github.com/referral-ledger/referral-ledger/projections"
)

// WebhookConfig is serve's webhook configuration.
type WebhookConfig struct {
	Timeout       time.Duration
	RetrySchedule string
	AllowPrivate  bool
	// SecretKey is the base64 AES-256 key that seals webhook secrets;
	// the embedded profile generates one into the data directory when unset.
	SecretKey string
	// PollInterval overrides the adapter's idle poll (tests).
	PollInterval time.Duration
	// DisableAfter disables an endpoint whose every attempt has failed this long.
	DisableAfter time.Duration
	// BreakerThreshold, BreakerCooldown and BreakerMaxCooldown tune the
	// circuit breaker (0: the adapter's defaults).
	BreakerThreshold                    int
	BreakerCooldown, BreakerMaxCooldown time.Duration
}

// forwarderName is the forwarder's checkpoint among the projections'.
const forwarderName = "webhooks"

// webhookFlags are serve's webhook flags.
type webhookFlags struct {
	WebhookTimeout            time.Duration `name:"webhook-timeout" env:"LEDGER_WEBHOOK_TIMEOUT" default:"10s" help:"Timeout of one delivery attempt."`
	WebhookRetrySchedule      string        `name:"webhook-retry-schedule" env:"LEDGER_WEBHOOK_RETRY_SCHEDULE" default:"1m,5m,30m" help:"Waits before each retry."`
	WebhookAllowPrivate       bool          `name:"webhook-allow-private" env:"LEDGER_WEBHOOK_ALLOW_PRIVATE" help:"Allow http and private addresses (local development and tests only)."`
	WebhookDisableAfter       time.Duration `name:"webhook-disable-after" env:"LEDGER_WEBHOOK_DISABLE_AFTER" default:"72h" help:"Disable an endpoint whose every delivery attempt has failed for this long."`
	WebhookBreakerThreshold   int           `name:"webhook-breaker-threshold" env:"LEDGER_WEBHOOK_BREAKER_THRESHOLD" default:"5" help:"Consecutive failed attempts that pause an endpoint (open its circuit)."`
	WebhookBreakerCooldown    time.Duration `name:"webhook-breaker-cooldown" env:"LEDGER_WEBHOOK_BREAKER_COOLDOWN" default:"30s" help:"First pause of an endpoint whose circuit opened; doubles after each failed probe."`
	WebhookBreakerMaxCooldown time.Duration `name:"webhook-breaker-max-cooldown" env:"LEDGER_WEBHOOK_BREAKER_MAX_COOLDOWN" default:"10m" help:"Longest pause of an endpoint whose circuit opened."`
	WebhookSecretKey          string        `name:"webhook-secret-key" env:"LEDGER_WEBHOOK_SECRET_KEY" help:"Base64 of 32 bytes sealing webhook secrets; required with --database-url (embedded: generated into the data directory)."`
}

func (f webhookFlags) config() WebhookConfig {
	return WebhookConfig{Timeout: f.WebhookTimeout, RetrySchedule: f.WebhookRetrySchedule,
		AllowPrivate: f.WebhookAllowPrivate, SecretKey: f.WebhookSecretKey, DisableAfter: f.WebhookDisableAfter,
		BreakerThreshold: f.WebhookBreakerThreshold, BreakerCooldown: f.WebhookBreakerCooldown,
		BreakerMaxCooldown: f.WebhookBreakerMaxCooldown}
}

// openWebhooks builds the webhooks adapter and the runner of its forwarder.
func (m *Main) openWebhooks(reg prometheus.Registerer) (*webhooks.Webhooks, *projections.Runner, error) {
	c := m.cfg.Webhooks
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	schedule := webhooks.DefaultRetrySchedule
	if c.RetrySchedule != "" {
		var err error
		if schedule, err = webhooks.ParseSchedule(c.RetrySchedule); err != nil {
			return nil, nil, fmt.Errorf("LEDGER_WEBHOOK_RETRY_SCHEDULE: %w", err)
		}
	}
	key, err := m.webhookKey(c.SecretKey)
	if err != nil {
		return nil, nil, err
	}
	sealer, err := webhooks.NewSealer(key)
	if err != nil {
		return nil, nil, err
	}
	if c.AllowPrivate {
		m.log.Warn("LEDGER_WEBHOOK_ALLOW_PRIVATE is on: webhooks may reach http and private addresses; for local development and tests only")
	}
	wh, err := webhooks.New(webhooks.Config{DB: m.write, ReadDB: m.read, Events: m.store, Sealer: sealer,
		Guard: ssrf.Guard{AllowPrivate: c.AllowPrivate}, Timeout: c.Timeout, RetrySchedule: schedule,
		PollInterval: c.PollInterval, DisableAfter: c.DisableAfter, BreakerThreshold: c.BreakerThreshold,
		BreakerCooldown: c.BreakerCooldown, BreakerMaxCooldown: c.BreakerMaxCooldown, Version: version, Logger: m.log, Metrics: reg})
	if err != nil {
		return nil, nil, err
	}
	runner, err := projections.NewRunner(m.store, m.write, wh.Forwarder(), projections.RunnerConfig{
		Name: forwarderName, Logger: m.log})
	if err != nil {
		return nil, nil, err
	}
	return wh, runner, nil
}

// webhookKey is the configured key, or the embedded profile's key file.
func (m *Main) webhookKey(configured string) ([]byte, error) {
	if configured != "" {
		key, err := webhooks.ParseKey(configured)
		if err != nil {
			return nil, fmt.Errorf("LEDGER_WEBHOOK_SECRET_KEY: %w", err)
		}
		return key, nil
	}
	if m.cfg.DatabaseURL != "" {
		return nil, errors.New("LEDGER_WEBHOOK_SECRET_KEY is required with --database-url: every replica must seal " +
			"webhook secrets with the same key (generate one with: openssl rand -base64 32)")
	}
	path := filepath.Join(m.cfg.DataDir, "webhook-secret.key")
	if err := checkKeyFile(path, "webhook secret key", "unseals every webhook secret"); err != nil {
		return nil, err
	}
	return webhooks.LoadOrCreateKey(path)
}
