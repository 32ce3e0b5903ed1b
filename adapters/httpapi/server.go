// Package httpapi is the ledger's HTTP API: the referral, settings, events
// and audit endpoints, API key authentication with scopes,
// appspace isolation, the error format and request limits.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/referral-ledger/referral-ledger/domain"
)

// KeyStore authenticates API keys.
type KeyStore interface {
	// Authenticate returns the live key for a presented key string.
	// Errors: domain.EUnauthorized.
	Authenticate(ctx context.Context, presented string) (domain.APIKey, error)
}

// Check is a named readiness check, run by /readyz.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// Degraded is what a Check returns when what it checks works, but not
// fully: /readyz stays 200 and shows "degraded: " and the reason.
type Degraded struct{ Reason string }

func (d Degraded) Error() string { return "degraded: " + d.Reason }

// Failing is what a Check returns to fail /readyz with a reason of its own
// (for example "tampered") instead of "failing".
type Failing struct{ Reason string }

func (f Failing) Error() string { return f.Reason }

// Config configures a Server.
type Config struct {
	// MaxBodyBytes caps request bodies; 64 KiB by default.
	MaxBodyBytes int64
	// Ready lists the checks /readyz runs.
	Ready []Check
	// Version is reported in /healthz.
	Version string
	// Metrics, if set, receives the API's Prometheus metrics.
	Metrics prometheus.Registerer
	// RateLimit is each API key's sustained rate in requests per second;
	// 0 turns rate limiting off. RateBurst is the bucket size; 0 means
	// twice the rate.
	RateLimit float64
	RateBurst int
	// AuthFailuresPerMinute and AuthFailureBurst limit failed
	// authentications per client address (10 a minute, burst 20 when 0);
	// a negative rate turns the limit off. The address is the connection's
	// peer: X-Forwarded-For is not trusted.
	AuthFailuresPerMinute float64
	AuthFailureBurst      int
	// Timeouts bound slow clients (see Timeouts); HTTPServer applies them.
	Timeouts Timeouts
	// MaxFollowStreams caps the follow=true event streams open at once per
	// API key; 4 when 0.
	MaxFollowStreams int
	// MaxStreams caps every stream open at once per API key (events as
	// NDJSON, follow=true or not, and referrals as CSV); 8 when 0. Each
	// holds pages of the log while its client reads, which may be slowly.
	MaxStreams int
	// ReadModels answers the list, leaderboard and stats endpoints; without
	// it they answer 404.
	ReadModels ReadModels
	// Webhooks serves the webhook endpoints and the audit trail's
	// deliveries; without it the webhook endpoints answer 404.
	Webhooks Webhooks
	// Audit serves the audit proof endpoints and the events' leaf
	// indexes; without it those endpoints answer 404 and leaf_index is null.
	Audit Auditor
	// Appspaces finds the appspace whoami names; the KeyStore serves when
	// it can, and without either whoami's appspace_name is null.
	Appspaces AppspaceFinder
}

// AppspaceFinder finds an appspace by ID.
type AppspaceFinder interface {
	// FindAppspace returns the appspace with the given ID or name.
	// Errors: domain.ENotFound.
	FindAppspace(ctx context.Context, idOrName string) (domain.Appspace, error)
}

// Server serves the API.
type Server struct {
	svc    *domain.Service
	keys   KeyStore
	events domain.EventStore
	cfg    Config
	log    *slog.Logger
	mux    *http.ServeMux
	met    *metrics
	limit  *limiter
	// stubs are the patterns of noRoute, which serve no method.
	stubs map[string]bool
	// authFail limits failed authentications per client address.
	authFail *authLimiter
	// follows caps each key's follow=true event streams; streams all its
	// streams (events as NDJSON, referrals as CSV).
	follows, streams *keySlots
	// patterns are the routes served, for Routes.
	patterns []string
	// appspaces names the appspace whoami reports.
	appspaces AppspaceFinder
}

// New returns a Server for svc, authenticating with keys.
func New(svc *domain.Service, keys KeyStore, log *slog.Logger, cfg Config) *Server {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	cfg.Timeouts = cfg.Timeouts.withDefaults()
	s := &Server{svc: svc, keys: keys, events: svc.Store(), cfg: cfg, log: log, mux: http.NewServeMux(), met: newMetrics(cfg.Metrics),
		limit: newLimiter(cfg.RateLimit, cfg.RateBurst), authFail: newAuthLimiter(cfg.AuthFailuresPerMinute, cfg.AuthFailureBurst),
		follows: newKeySlots(cfg.MaxFollowStreams, 4, "follow=true streams"),
		streams: newKeySlots(cfg.MaxStreams, 8, "streams (events as NDJSON, referrals as CSV)")}
	s.appspaces = cfg.Appspaces
	if finder, ok := keys.(AppspaceFinder); ok && s.appspaces == nil {
		s.appspaces = finder
	}
	s.routes()
	return s
}

// Routes returns the "METHOD /path" patterns the server serves, path
// parameters in braces: what the OpenAPI document must describe.
func (s *Server) Routes() []string { return slices.Clone(s.patterns) }

// ServeHTTP implements http.Handler. The body's deadline is set here, for
// every route, since the server reads an unread body after any handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.limitBody(w, r)
	s.mux.ServeHTTP(w, r)
}

// Handle mounts another handler (for example /metrics) beside the API.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

type route struct {
	pattern string
	scope   string
	h       handlerFunc
}

func (s *Server) routes() {
	routes := []route{
		{"POST /v1/api/referral/create", domain.ScopeReferralsWrite, command(s.createReferral)},
		{"GET /v1/api/referral/{code}", domain.ScopeReferralsRead, s.getReferral},
		{"POST /v1/api/referral/milestone", domain.ScopeReferralsWrite, command(s.reachMilestone)},
		{"POST /v1/api/referral/complete", domain.ScopeReferralsWrite, command(s.completeReferral)},
		{"POST /v1/api/referral/claim-reward", domain.ScopeRewardsClaim, command(s.claim(domain.SideReferrer))},
		{"POST /v1/api/referral/claim-referee-reward", domain.ScopeRewardsClaim, command(s.claim(domain.SideReferee))},
		{"GET /v1/api/referral/settings", domain.ScopeReferralsRead, s.getSettings},
		{"PUT /v1/api/referral/settings", domain.ScopeSettingsWrite, command(s.putSettings)},
		{"GET /v1/api/events", domain.ScopeEventsRead, s.listEvents},
		{"GET /v1/api/audit/referrals/{code}", domain.ScopeAuditRead, s.auditReferral},
		{"POST /v1/api/referral/void", domain.ScopeReviewsManage, command(s.voidReferral)},
		{"POST /v1/api/referral/reverse-reward", domain.ScopeReviewsManage, command(s.reverseReward)},
		{"POST /v1/api/reviews/{code}/approve", domain.ScopeReviewsManage, command(s.resolveReview(true))},
		{"POST /v1/api/reviews/{code}/reject", domain.ScopeReviewsManage, command(s.resolveReview(false))},
		{"GET /v1/api/whoami", anyScope, s.whoami},
	}
	if s.cfg.ReadModels != nil {
		routes = append(routes,
			route{"GET /v1/api/referral/leaderboard", domain.ScopeReferralsRead, s.leaderboard},
			route{"GET /v1/api/referral/stats", domain.ScopeReferralsRead, s.stats},
			route{"GET /v1/api/referral/stats/series", domain.ScopeReferralsRead, s.statsSeries},
			route{"GET /v1/api/referrals", domain.ScopeReferralsRead, s.listReferrals},
			route{"GET /v1/api/reviews", domain.ScopeReviewsManage, s.listReviews},
		)
	}
	if s.cfg.Webhooks != nil {
		routes = append(routes, s.webhookRoutes()...)
	}
	if s.cfg.Audit != nil {
		routes = append(routes, s.auditRoutes()...)
	}
	for _, rt := range routes {
		s.mux.Handle(rt.pattern, s.met.instrument(rt.pattern, s.wrap(rt.scope, rt.h)))
		s.patterns = append(s.patterns, rt.pattern)
	}
	s.noRoutes(routes)
	plain := map[string]http.HandlerFunc{
		"GET /healthz": func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": s.cfg.Version})
		},
		"GET /readyz":        s.readyz,
		"GET " + OpenAPIPath: serveOpenAPI,
	}
	for pattern, h := range plain {
		s.mux.HandleFunc(pattern, h)
		s.patterns = append(s.patterns, pattern)
	}
}

// readyRetrySeconds is the Retry-After of a failing /readyz.
const readyRetrySeconds = 5

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	status := http.StatusOK
	for _, c := range s.cfg.Ready {
		err := c.Check(ctx)
		var degraded Degraded
		if errors.As(err, &degraded) {
			checks[c.Name] = degraded.Error()
			continue
		}
		if err != nil {
			s.log.WarnContext(ctx, "readiness check failed", "check", c.Name, "err", err)
			checks[c.Name] = "failing"
			if f := (Failing{}); errors.As(err, &f) {
				checks[c.Name] = f.Reason
			}
			status = http.StatusServiceUnavailable
			continue
		}
		checks[c.Name] = "ok"
	}
	if status != http.StatusOK {
		// Clients that retry on 503 (Tolinku's SDKs among them) wait this
		// long rather than hammer a replica that is starting or lagging.
		w.Header().Set("Retry-After", strconv.Itoa(readyRetrySeconds))
	}
	writeJSON(w, status, map[string]any{"ready": status == http.StatusOK, "checks": checks})
}
