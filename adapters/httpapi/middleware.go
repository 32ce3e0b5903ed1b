package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

// anyScope is the scope of an endpoint any valid key may call.
const anyScope = "*"

// keyContext carries the authenticated key to anyScope endpoints.
type keyContext struct{}

// handlerFunc is an endpoint: it writes a success response or returns an
// error, which wrap turns into the error body.
type handlerFunc func(w http.ResponseWriter, r *http.Request, o domain.Origin) error

// wrap adds request IDs, the body limit, authentication, the scope check,
// panic recovery and error rendering to an endpoint.
func (s *Server) wrap(scope string, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		reqID := headerID(r, "X-Request-ID")
		if reqID == "" {
			reqID = domain.NewID()
		}
		w.Header().Set("X-Request-ID", reqID)
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		o := domain.Origin{RequestID: reqID, CorrelationID: headerID(r, "X-Correlation-ID")}
		err := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					if p == http.ErrAbortHandler {
						panic(p)
					}
					s.log.ErrorContext(r.Context(), "panic in handler", "panic", p, "request_id", reqID)
					err = errors.New("panic")
				}
			}()
			if scope == "" {
				return h(w, r, o)
			}
			if err := s.authFail.check(w, r); err != nil {
				return err
			}
			key, err := s.authenticate(r.Context(), r)
			if domain.ErrorCode(err) == domain.EUnauthorized {
				s.authFail.failed(clientKey(r))
			}
			if err != nil {
				return err
			}
			if err := s.limit.allow(w, key.ID); err != nil {
				return err
			}
			if scope != anyScope && !key.Has(scope) {
				return domain.Errorf(domain.EForbidden, "this API key lacks the %s scope", scope)
			}
			o.AppspaceID, o.KeyID = key.AppspaceID, key.ID
			if scope == anyScope { // such endpoints describe the key itself
				r = r.WithContext(context.WithValue(r.Context(), keyContext{}, key))
			}
			return h(w, r, o)
		}()
		if err != nil {
			s.writeError(w, r, reqID, err)
		}
		if s.log.Enabled(r.Context(), slog.LevelDebug) { // spares the arguments' allocations
			s.log.DebugContext(r.Context(), "request", "method", r.Method, "path", r.URL.Path,
				"request_id", reqID, "key_id", o.KeyID, "duration", time.Since(start))
		}
	})
}

// command runs a command endpoint (an append and the reads it decides on)
// to its end once it has started, even if the client leaves: the reads
// are short, and an append cut off by the client's leaving has an outcome
// nobody learns (see "Lost acknowledgements"). It also spares the
// per-query goroutines that database/sql, modernc.org/sqlite and lib/pq
// start to watch a context that can be cancelled (two per query; about
// 20 allocations a command). A request whose client has already gone is
// not started.
func command(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
		if err := r.Context().Err(); err != nil {
			return err
		}
		return h(w, r.WithContext(context.WithoutCancel(r.Context())), o)
	}
}

func (s *Server) authenticate(ctx context.Context, r *http.Request) (domain.APIKey, error) {
	presented := r.Header.Get("X-API-Key")
	if presented == "" {
		if auth := r.Header.Get("Authorization"); len(auth) > 7 && strings.EqualFold(auth[:7], "Bearer ") {
			presented = strings.TrimSpace(auth[7:])
		}
	}
	if presented == "" {
		return domain.APIKey{}, domain.Errorf(domain.EUnauthorized, "missing API key: send X-API-Key or Authorization: Bearer")
	}
	// Keys are printable ASCII; anything else is no key, and must not
	// reach a store's text lookup (PostgreSQL refuses invalid UTF-8).
	for _, c := range []byte(presented) {
		if c < 0x21 || c > 0x7e {
			return domain.APIKey{}, domain.Errorf(domain.EUnauthorized, "invalid or revoked API key")
		}
	}
	return s.keys.Authenticate(ctx, presented)
}

// headerID returns a caller-supplied ID header if it is 1 to 128 bytes of
// [A-Za-z0-9._:-], and "" otherwise: it is stored in every event's
// metadata and echoed in headers and logs, so anything that could be
// markup, a quote or a separator is dropped (and the caller gets a
// generated request ID instead, which the response header shows).
func headerID(r *http.Request, name string) string {
	v := r.Header.Get(name)
	if len(v) == 0 || len(v) > 128 {
		return ""
	}
	for _, c := range []byte(v) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return ""
		}
	}
	return v
}

var statusOf = map[string]int{
	domain.EInvalid:                http.StatusBadRequest,
	domain.EUnauthorized:           http.StatusUnauthorized,
	domain.EForbidden:              http.StatusForbidden,
	domain.ENotFound:               http.StatusNotFound,
	domain.EReferralsDisabled:      http.StatusForbidden,
	domain.EMaxReferralsReached:    http.StatusBadRequest,
	domain.EReferralExpired:        http.StatusConflict,
	domain.EReferralNotPending:     http.StatusConflict,
	domain.EReferralNotCompleted:   http.StatusConflict,
	domain.EMilestoneOutOfOrder:    http.StatusConflict,
	domain.EUnknownMilestone:       http.StatusBadRequest,
	domain.ESelfReferral:           http.StatusBadRequest,
	domain.ERefereeAlreadyReferred: http.StatusConflict,
	domain.ERefereeMismatch:        http.StatusConflict,
	domain.ENoRewardConfigured:     http.StatusConflict,
	domain.EConflict:               http.StatusConflict,
	domain.ERateLimited:            http.StatusTooManyRequests,
	domain.EPayloadTooLarge:        http.StatusRequestEntityTooLarge,
	domain.EInternal:               http.StatusInternalServerError,
	domain.ERewardOnHold:           http.StatusConflict,
	domain.EReferralUnderReview:    http.StatusConflict,
	domain.ERewardReversed:         http.StatusConflict,
	domain.EReferralVoided:         http.StatusConflict,
}

type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// writeError renders err as the API's error body. Internal details are
// logged with the request ID, never sent.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, reqID string, err error) {
	var de *domain.Error
	if !errors.As(err, &de) {
		if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			return // the client went away
		}
		s.log.ErrorContext(r.Context(), "internal error", "err", err, "request_id", reqID,
			"method", r.Method, "path", r.URL.Path)
		de = domain.Errorf(domain.EInternal, "internal error (request %s)", reqID)
	}
	status, ok := statusOf[de.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1") // every refusal to wait says how long
	}
	if len(de.Fields) > 0 { // extra members (available_at) beside error and code
		body := map[string]any{"error": de.Message, "code": de.Code}
		for k, v := range de.Fields {
			if _, taken := body[k]; !taken {
				body[k] = v
			}
		}
		writeJSON(w, status, body)
		return
	}
	writeJSON(w, status, errorBody{Error: de.Message, Code: de.Code})
}
