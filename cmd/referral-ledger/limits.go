package main

import (
	"fmt"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/httpapi"
)

// LimitConfig bounds what one client can hold or cost the server (serve
// only); zero fields take httpapi's defaults.
type LimitConfig struct {
	AuthFailuresPerMinute float64
	AuthFailureBurst      int
	MaxFollowStreams      int
	MaxStreams            int
	Timeouts              httpapi.Timeouts
}

// limitFlags are serve's flags for LimitConfig.
type limitFlags struct {
	AuthFailureLimit int           `name:"auth-failure-limit" env:"LEDGER_AUTH_FAILURE_LIMIT" default:"10" help:"Failed authentications per minute per client address before 429 (by the connection's address; X-Forwarded-For is not trusted)."`
	AuthFailureBurst int           `name:"auth-failure-burst" env:"LEDGER_AUTH_FAILURE_BURST" default:"20" help:"Burst of failed authentications per client address."`
	MaxFollowStreams int           `name:"max-follow-streams" env:"LEDGER_MAX_FOLLOW_STREAMS" default:"4" help:"Open follow=true event streams per API key."`
	MaxStreams       int           `name:"max-streams" env:"LEDGER_MAX_STREAMS" default:"8" help:"Open streams per API key: events as NDJSON (follow=true ones included) and referrals as CSV."`
	BodyTimeout      time.Duration `name:"body-timeout" env:"LEDGER_BODY_TIMEOUT" default:"30s" help:"Time to send a request body."`
	WriteTimeout     time.Duration `name:"write-timeout" env:"LEDGER_WRITE_TIMEOUT" default:"60s" help:"Time to write a response (event streams: per batch)."`
}

func (f limitFlags) config() (LimitConfig, error) {
	if f.AuthFailureLimit <= 0 || f.AuthFailureBurst <= 0 || f.MaxFollowStreams <= 0 || f.MaxStreams <= 0 || f.BodyTimeout <= 0 || f.WriteTimeout <= 0 {
		return LimitConfig{}, fmt.Errorf("--auth-failure-limit, --auth-failure-burst, --max-follow-streams, --max-streams, --body-timeout and --write-timeout must be positive")
	}
	return LimitConfig{AuthFailuresPerMinute: float64(f.AuthFailureLimit), AuthFailureBurst: f.AuthFailureBurst,
		MaxFollowStreams: f.MaxFollowStreams, MaxStreams: f.MaxStreams, Timeouts: httpapi.Timeouts{Body: f.BodyTimeout, Write: f.WriteTimeout}}, nil
}
