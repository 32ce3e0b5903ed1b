// Package webhooks turns the ledger's events into signed, retried,
// idempotent webhook deliveries: every event reaches every subscribed,
// active endpoint at least once, under a stable event id.
//
// The pipeline has three stages, each restartable on its own:
//
//   - the Forwarder, a projection handler: the projections runner feeds it the
//     global log and it publishes each event that raises a webhook to a
//     Watermill topic through watermill-sql, in the transaction that moves its
//     checkpoint (PostgreSQL: watermill-sql's own schema; SQLite: our schema
//     adapter). A crash repeats a message, never loses one.
//   - the dispatcher, a Watermill handler: for each message, one delivery row
//     per active webhook subscribed to its type, written in the subscriber's
//     transaction and unique on (event id, webhook id), so a repeated message
//     adds nothing.
//   - the delivery worker: claims due deliveries (FOR UPDATE SKIP LOCKED on
//     PostgreSQL, so replicas share the work), signs and POSTs the stored body,
//     records each attempt and schedules the next one.
package webhooks

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/referral-ledger/referral-ledger/adapters/ssrf"
	"github.com/referral-ledger/referral-ledger/domain"
)

// Config configures the webhooks adapter.
type Config struct {
	// DB holds the webhook tables and the Watermill topic: the PostgreSQL
	// pool, or the SQLite file's single writer.
	DB *sqlx.DB
	// ReadDB answers the management API's reads; DB when nil.
	ReadDB *sqlx.DB
	// Events is the event store, read by the forwarder and replays.
	Events domain.EventStore
	// Sealer encrypts secrets at rest.
	Sealer *Sealer
	// Guard refuses private targets (AllowPrivate for tests and local development).
	Guard ssrf.Guard
	// Timeout bounds one attempt; 10 s by default.
	Timeout time.Duration
	// RetrySchedule is the wait before each retry; DefaultRetrySchedule
	// when nil (four attempts). An empty, non-nil schedule means one attempt
	// and no retries.
	RetrySchedule []time.Duration
	// Concurrency is how many requests the worker has in flight; 32 by default.
	Concurrency int
	// PollInterval bounds how long the dispatcher and the worker sleep when
	// idle and nothing in this process woke them (work of another replica);
	// 200 ms by default.
	PollInterval time.Duration
	// Version goes in the User-Agent.
	Version string
	Logger  *slog.Logger
	// Metrics, if set, receives the delivery metrics.
	Metrics prometheus.Registerer
	// Now is the clock; time.Now by default.
	Now func() time.Time
	// BreakerThreshold is how many consecutive failed attempts open an
	// endpoint's circuit (state paused); 5 by default.
	BreakerThreshold int
	// BreakerCooldown is the first cooling of an open circuit, doubling at
	// each failed probe up to BreakerMaxCooldown; 30 s and 10 min by default.
	BreakerCooldown, BreakerMaxCooldown time.Duration
	// DisableAfter disables an endpoint whose every attempt has failed for
	// this long (LEDGER_WEBHOOK_DISABLE_AFTER); 72 h by default.
	DisableAfter time.Duration
}

// Validate reports a configuration the adapter cannot use.
func (c Config) Validate() error {
	switch {
	case c.DB == nil:
		return errors.New("webhooks: DB is nil")
	case c.Events == nil:
		return errors.New("webhooks: event store is nil")
	case c.Sealer == nil:
		return errors.New("webhooks: sealer is nil")
	case c.Timeout < 0 || c.Concurrency < 0 || c.PollInterval < 0:
		return errors.New("webhooks: timeout, concurrency and poll interval must not be negative")
	case c.BreakerThreshold < 0 || c.BreakerCooldown < 0 || c.BreakerMaxCooldown < 0 || c.DisableAfter < 0:
		return errors.New("webhooks: breaker settings and disable-after must not be negative")
	}
	for _, d := range c.RetrySchedule {
		if d <= 0 {
			return fmt.Errorf("webhooks: retry delay %s must be positive", d)
		}
	}
	return nil
}

// DefaultRetrySchedule retries after 1, 5 and 30 minutes: four attempts
// over about 36 minutes, enough to ride out a receiver's deploy or restart.
var DefaultRetrySchedule = []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute}

// ParseSchedule parses LEDGER_WEBHOOK_RETRY_SCHEDULE ("1m,5m,30m"). An
// empty string returns nil, which New reads as DefaultRetrySchedule: the
// variable cannot turn retries off, because at-least-once delivery relies
// on them.
func ParseSchedule(s string) ([]time.Duration, error) {
	if s == "" {
		return nil, nil
	}
	var out []time.Duration
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		d, err := time.ParseDuration(part)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("retry schedule %q: %q is not a positive duration", s, part)
		}
		out = append(out, d)
	}
	return out, nil
}

// core is what every part of the adapter shares: the settings, the
// databases, the log and the clock, the sender, the per-endpoint state of
// this replica and the in-process wake-ups.
type core struct {
	cfg     Config
	db      *sqlx.DB
	read    *sqlx.DB
	log     *slog.Logger
	now     func() time.Time
	sql     dialect
	met     *metrics
	deliver *deliverer
	// ends counts this replica's requests in flight per endpoint and
	// meters their rate limits.
	ends *endpoints
	// wake carries "work may be waiting" within the process: the forwarder
	// wakes the dispatcher, the dispatcher and the API wake the worker.
	dispatchWake, workWake chan struct{}
	// freed tells the worker that an attempt ended or a recorded outcome
	// freed its slot: held deliveries may start, or be given back.
	freed chan struct{}
	// stmts are the worker's statements, prepared once.
	stmts workerStmts
}

// Endpoints manages webhook endpoints: create, list, update, delete, and
// secret rotation (secrets are sealed at rest).
type Endpoints struct{ *core }

// DeliveryLog is the delivery log and what resends from it: retry, replay
// and the test send.
type DeliveryLog struct{ *core }

// dispatcher consumes the forwarded messages and writes the delivery rows.
type dispatcher struct {
	*core
	// prepared is the dispatch statement of the subscriber's current
	// transaction, and how that transaction writes (see dispatch).
	prepared struct {
		mu   sync.Mutex
		tx   *sql.Tx
		stmt *sql.Stmt
		// guarded: tx writes each message behind a savepoint; guardNext:
		// the next transaction will; dead: the abandoned transaction.
		guarded, guardNext bool
		dead               *sql.Tx
		// pending: the messages of tx whose deliveries are written
		// together when the subscriber acks the batch (PostgreSQL).
		pending []queuedMessage
	}
	// queued: the current subscriber transaction wrote deliveries.
	queued atomic.Bool
}

// worker claims due deliveries fairly across endpoints, sends them,
// records the attempts and keeps each endpoint's breaker.
type worker struct {
	*core
	// turn rotates the fair claim's start.
	turn int
}

// Webhooks is the adapter: the endpoint management, the delivery log, the
// forwarder, the dispatcher and the delivery worker, over one shared core.
type Webhooks struct {
	*core
	*Endpoints
	*DeliveryLog
	disp *dispatcher
	work *worker
}

// New returns the adapter.
func New(cfg Config) (*Webhooks, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c := &core{cfg: cfg, db: cfg.DB, read: cfg.ReadDB, log: cfg.Logger, now: cfg.Now,
		sql: dialectOf(cfg.DB.DriverName()), dispatchWake: make(chan struct{}, 1), workWake: make(chan struct{}, 1), ends: newEndpoints(),
		freed: make(chan struct{}, 1)}
	c.stmts = newWorkerStmts(c.db, c.read)
	c.met = newMetrics(c)
	if cfg.Metrics != nil {
		if err := c.met.register(cfg.Metrics); err != nil {
			return nil, err
		}
	}
	c.deliver = &deliverer{w: c, client: cfg.Guard.Client(cfg.Timeout), version: cfg.Version}
	return &Webhooks{core: c, Endpoints: &Endpoints{c}, DeliveryLog: &DeliveryLog{c},
		disp: &dispatcher{core: c}, work: &worker{core: c}}, nil
}

// withDefaults fills the settings left zero.
func (cfg Config) withDefaults() Config {
	if cfg.ReadDB == nil {
		cfg.ReadDB = cfg.DB
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.RetrySchedule == nil {
		cfg.RetrySchedule = DefaultRetrySchedule
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 32
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 200 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg.breakerDefaults()
}

// Run runs the dispatcher and the delivery worker until ctx ends; the
// worker then finishes and records the attempts in flight. The forwarder
// runs apart, under a projections runner.
func (w *Webhooks) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return w.disp.runDispatcher(gctx) })
	g.Go(func() error { return w.work.runWorker(gctx) })
	return g.Wait()
}

// maxAttempts is how many attempts a delivery gets: the first and one per
// retry delay.
func (w *core) maxAttempts() int { return len(w.cfg.RetrySchedule) + 1 }

func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
