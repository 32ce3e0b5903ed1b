package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/referral-ledger/referral-ledger/adapters/console"
	"github.com/referral-ledger/referral-ledger/adapters/eventstoredb"
	"github.com/referral-ledger/referral-ledger/adapters/httpapi"
	"github.com/referral-ledger/referral-ledger/adapters/postgres"
	"github.com/referral-ledger/referral-ledger/adapters/sqlite"
	"github.com/referral-ledger/referral-ledger/adapters/sqlstore"
	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

// version is the build's version, set with -ldflags "-X main.version=...".
var version = "dev"

// Config is what every subcommand needs to find the stores.
type Config struct {
	Addr          string
	DataDir       string
	DatabaseURL   string
	EventstoreURL string
	Logger        *slog.Logger
	// Out receives what a person must see once (the first server key).
	Out io.Writer
	// RateLimit and RateBurst limit each API key (see httpapi.Config).
	RateLimit float64
	RateBurst int
	// Limits bound slow and abusive clients (serve only).
	Limits LimitConfig
	// Webhooks configures deliveries (serve only).
	Webhooks WebhookConfig
	// Audit configures the verifiable ledger (serve only).
	Audit AuditConfig
	// Console serves the operator console at / (serve only).
	Console bool
}

// Main is the wired application: stores, domain service and HTTP API.
type Main struct {
	cfg    Config
	log    *slog.Logger
	store  domain.EventStore
	svc    *domain.Service
	access *sqlstore.Access
	// The read side: the referrals projection, its runner, the expiry sweep.
	readModels *projections.Referrals
	runner     *projections.Runner
	sweeper    *projections.Sweeper
	// write and read are the SQL database's writer and readers (one pool
	// on PostgreSQL).
	write, read *sqlx.DB
	ping        func(context.Context) error
	closer      func() error
	ln          net.Listener
}

// Open opens (and migrates) the stores the configuration names.
func Open(ctx context.Context, cfg Config) (*Main, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	pg := strings.HasPrefix(cfg.DatabaseURL, "postgres://") || strings.HasPrefix(cfg.DatabaseURL, "postgresql://")
	if cfg.EventstoreURL != "" && !pg {
		// Read models, API keys and webhook state live in PostgreSQL.
		return nil, errors.New("--eventstore-url needs a postgres:// --database-url beside it")
	}
	m := &Main{cfg: cfg, log: cfg.Logger}
	var write, read *sqlx.DB
	switch {
	case cfg.DatabaseURL == "":
		if err := prepareDataDir(cfg.DataDir, cfg.Logger); err != nil {
			return nil, err
		}
		st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(cfg.DataDir, "ledger.db")})
		if err != nil {
			return nil, err
		}
		m.store, m.closer, m.ping = st, st.Close, st.DB().PingContext
		write, read = st.WriteDB(), st.DB()
	case pg:
		st, err := postgres.Open(ctx, postgres.Config{URL: cfg.DatabaseURL})
		if err != nil {
			return nil, err
		}
		m.store, m.closer, m.ping = st, st.Close, st.DB().PingContext
		write, read = st.DB(), st.DB()
		if cfg.EventstoreURL != "" { // the eventstoredb profile: only the event log moves
			es, err := eventstoredb.Open(ctx, eventstoredb.Config{URL: cfg.EventstoreURL, Logger: cfg.Logger})
			if err != nil {
				return nil, errors.Join(err, st.Close())
			}
			m.store = es
			m.closer = func() error { return errors.Join(es.Close(), st.Close()) }
			m.ping = func(ctx context.Context) error { return errors.Join(es.Ping(ctx), st.DB().PingContext(ctx)) }
		}
	default:
		return nil, errors.New("--database-url must be a postgres:// URL (or empty for the embedded SQLite store)")
	}
	m.access = sqlstore.NewAccess(write, read)
	if cfg.DatabaseURL == "" {
		m.access.SignalRevocations(filepath.Join(cfg.DataDir, revocationsFile))
	}
	m.write, m.read = write, read
	m.svc = domain.NewService(m.store, domain.ServiceConfig{})
	m.readModels = projections.NewReferrals(read)
	runner, err := projections.NewRunner(m.store, write, m.readModels, projections.RunnerConfig{
		Name: projections.ReferralsName, Logger: m.log})
	if err != nil {
		return nil, errors.Join(err, m.closer())
	}
	m.runner = runner
	m.sweeper = projections.NewSweeper(read, m.svc, projections.SweeperConfig{Logger: m.log})
	return m, nil
}

// Close releases the stores.
func (m *Main) Close() error { return errors.Join(m.access.Close(), m.closer()) }

// Listen binds the API's address; Run calls it if it was not called.
func (m *Main) Listen() (net.Addr, error) {
	if m.ln == nil {
		ln, err := net.Listen("tcp", m.cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", m.cfg.Addr, err)
		}
		m.ln = ln
	}
	return m.ln.Addr(), nil
}

// Run serves the API until ctx ends, then drains in-flight requests.
func (m *Main) Run(ctx context.Context) error {
	if err := m.bootstrap(ctx); err != nil {
		return err
	}
	if err := m.cacheKeys(ctx); err != nil {
		return err
	}
	addr, err := m.Listen()
	if err != nil {
		return err
	}
	reg := m.registry()
	wh, forwarder, err := m.openWebhooks(reg)
	if err != nil {
		return err
	}
	ledger, err := m.openAudit()
	if err != nil {
		return err
	}
	api := httpapi.New(m.svc, m.access, m.log, httpapi.Config{
		Version: version,
		Ready: []httpapi.Check{
			{Name: "store", Check: m.ping},
			{Name: "projections", Check: m.projectionsReady},
			{Name: "ledger", Check: ledger.ready},
		},
		Metrics:               reg,
		RateLimit:             m.cfg.RateLimit,
		RateBurst:             m.cfg.RateBurst,
		AuthFailuresPerMinute: m.cfg.Limits.AuthFailuresPerMinute,
		AuthFailureBurst:      m.cfg.Limits.AuthFailureBurst,
		MaxFollowStreams:      m.cfg.Limits.MaxFollowStreams,
		MaxStreams:            m.cfg.Limits.MaxStreams,
		Timeouts:              m.cfg.Limits.Timeouts,
		ReadModels:            m.readModels,
		Webhooks:              wh,
		Audit:                 ledger.prover,
	})
	api.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if m.cfg.Console {
		api.Handle("/", console.Handler()) // every method: a GET-only "/" would clash with the API's catch-all
	}
	srv := api.HTTPServer()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		m.log.Info("serving", "addr", addr.String(), "version", version)
		if err := srv.Serve(m.ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error { return m.runner.Run(gctx) })
	g.Go(func() error { return m.sweeper.Run(gctx) })
	g.Go(func() error { return forwarder.Run(gctx) })
	g.Go(func() error { return wh.Run(gctx) })
	g.Go(func() error { return ledger.runner.Run(gctx) })
	g.Go(func() error { return ledger.notary.Run(gctx) })
	g.Go(func() error {
		<-gctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		m.log.Info("shutting down: draining requests")
		return srv.Shutdown(shutdownCtx)
	})
	return g.Wait()
}

// registry is serve's Prometheus registry with the process's and the
// read models' metrics; the webhooks and the API add theirs.
func (m *Main) registry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "ledger_projection_lag_seconds",
			Help:        "Age of the oldest event the projection has not applied (0 when caught up; -1 when unknown).",
			ConstLabels: prometheus.Labels{"projection": projections.ReferralsName},
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			lag, err := m.projectionLag(ctx)
			if err != nil {
				return -1
			}
			return lag.Seconds()
		}), quarantineCollector{m})
	return reg
}

// maxReadyLag is how far the read models may lag before /readyz fails.
const maxReadyLag = 30 * time.Second

// projectionLag is the referrals projection's lag behind the log.
func (m *Main) projectionLag(ctx context.Context) (time.Duration, error) {
	c, err := m.runner.Checkpoint(ctx)
	if err != nil {
		return 0, err
	}
	return projections.Lag(ctx, m.store, c, time.Now())
}

// bootstrap gives an empty store the appspace "default" and prints a server
// key for it, once.
func (m *Main) bootstrap(ctx context.Context) error {
	spaces, err := m.access.ListAppspaces(ctx)
	if err != nil || len(spaces) > 0 {
		return err
	}
	as, err := m.access.CreateAppspace(ctx, "default")
	if domain.ErrorCode(err) == domain.EConflict {
		return nil // another replica got there first
	}
	if err != nil {
		return err
	}
	_, secret, err := m.access.CreateKey(ctx, as.ID, domain.RoleServer, "bootstrap")
	if err != nil {
		return err
	}
	fmt.Fprintf(m.cfg.Out, "Created appspace \"default\" (%s) and a server API key for it.\n"+
		"It is shown only this once; store it now:\n\n  %s\n\n", as.ID, secret)
	return nil
}
