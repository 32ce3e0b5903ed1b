package httpapi

import (
	"net/http"
	"slices"
	"strings"

	"github.com/referral-ledger/referral-ledger/domain"
)

// methods are the methods the API's routes use, in Allow header order
// (HEAD is served wherever GET is).
var methods = []string{"DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"}

// catchAll is the pattern of the handler for paths no route serves.
const catchAll = "/v1/"

// noRoutes mounts the handlers for requests no route serves: 405 with an
// Allow header for a known path and another method, 404 for an unknown
// path. A literal path gets its other methods mounted explicitly, since a
// wildcard route (GET /v1/api/referral/{code}) would otherwise claim GET
// /v1/api/referral/create as a code.
func (s *Server) noRoutes(routes []route) {
	served := map[string][]string{}
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt.pattern, " ")
		if !strings.Contains(path, "{") {
			served[path] = append(served[path], method)
		}
	}
	h := s.wrap("", s.noRoute)
	s.stubs = map[string]bool{catchAll: true}
	for path, ms := range served {
		for _, m := range methods {
			if m != "HEAD" && !slices.Contains(ms, m) {
				s.stubs[m+" "+path] = true
				s.mux.Handle(m+" "+path, h)
			}
		}
	}
	s.mux.Handle(catchAll, h)
}

// noRoute answers 405 when another method serves the path, else 404.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request, _ domain.Origin) error {
	var allow []string
	for _, m := range methods {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && !s.stubs[pattern] {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		return domain.Errorf(domain.ENotFound, "no such endpoint: %s %s", r.Method, r.URL.Path)
	}
	// The API's error codes have no method_not_allowed: the request is invalid,
	// and the status says how.
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeJSON(w, http.StatusMethodNotAllowed, errorBody{
		Error: "method " + r.Method + " is not allowed here; allowed: " + strings.Join(allow, ", "),
		Code:  domain.EInvalid,
	})
	return nil
}
