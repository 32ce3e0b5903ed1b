package projections

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
)

// SweeperConfig configures a Sweeper. Zero fields take defaults.
type SweeperConfig struct {
	// Every is the pause between sweeps; 30 s by default.
	Every time.Duration
	// Batch caps the referrals one sweep expires; 500 by default.
	Batch int
	// Now returns the current time; time.Now by default.
	Now    func() time.Time
	Logger *slog.Logger
}

// Sweeper records the expiry of pending referrals past their expires_at,
// so that referral.expired events and the stats do not wait for someone to
// read the referral. It finds them through the referrals read model and
// expires them through the domain service, whose expected-revision appends
// make concurrent sweeps of several replicas harmless: a referral already
// expired records nothing.
type Sweeper struct {
	db  *sqlx.DB
	svc *domain.Service
	cfg SweeperConfig
	log *slog.Logger
}

// NewSweeper returns a sweeper that reads rm_referrals through db.
func NewSweeper(db *sqlx.DB, svc *domain.Service, cfg SweeperConfig) *Sweeper {
	if cfg.Every <= 0 {
		cfg.Every = 30 * time.Second
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 500
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sweeper{db: db, svc: svc, cfg: cfg, log: log}
}

// Sweep expires up to one batch of due referrals and returns how many it
// looked at.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	var due []struct {
		AppspaceID string `db:"appspace_id"`
		Code       string `db:"referral_code"`
	}
	err := s.db.SelectContext(ctx, &due, s.db.Rebind(`SELECT appspace_id, referral_code FROM rm_referrals
		WHERE status = 'pending' AND expires_at <= ? ORDER BY expires_at LIMIT ?`), s.cfg.Now().UnixMilli(), s.cfg.Batch)
	if err != nil {
		return 0, fmt.Errorf("find due expiries: %w", err)
	}
	for _, d := range due {
		o := domain.Origin{AppspaceID: d.AppspaceID, RequestID: domain.NewID(), Reason: "expiry"}
		// Reading a referral records its due expiry.
		if _, err := s.svc.GetReferral(ctx, o, d.Code); err != nil {
			return 0, fmt.Errorf("expire %s in %s: %w", d.Code, d.AppspaceID, err)
		}
	}
	return len(due), nil
}

// Run sweeps until ctx ends.
func (s *Sweeper) Run(ctx context.Context) error {
	for {
		if n, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "expiry sweep failed", "err", err)
		} else if n > 0 {
			s.log.InfoContext(ctx, "expiry sweep", "referrals", n)
		}
		if !Sleep(ctx, s.cfg.Every) {
			return nil
		}
	}
}
