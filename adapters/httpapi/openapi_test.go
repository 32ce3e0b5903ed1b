package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/referral-ledger/referral-ledger/adapters/audit"
	"github.com/referral-ledger/referral-ledger/adapters/httpapi"
)

// The OpenAPI document cannot drift from the handlers: every request the
// tests send through http.DefaultClient to a test server is checked
// against it, and so is every response. A request the document rejects
// must be answered with a 4xx (the tests send many bad requests on
// purpose); a response must match the document's status, content type and
// body schema. Streams (NDJSON, CSV) and tiles are checked up to their
// content type, since their bodies may never end or are not JSON.

// spec is the served document, loaded and validated once, with the
// router that finds a request's operation in it.
type spec struct {
	doc    *openapi3.T
	router routers.Router
}

var contract = sync.OnceValue(func() spec {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(httpapi.OpenAPI())
	if err != nil {
		panic(err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		panic(err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		panic(err)
	}
	return spec{doc: doc, router: router}
})

// checked maps a test server's host to the test whose traffic it carries,
// and records the operations ("METHOD /path template") seen.
var checked struct {
	sync.Mutex
	tests map[string]testing.TB
	seen  map[string]bool
}

var installTransport sync.Once

// validateTraffic makes the tests' HTTP traffic to the server at url
// checked against the document until tb ends.
func validateTraffic(tb testing.TB, url string) {
	if _, fuzzing := tb.(*testing.F); fuzzing {
		return // a fuzz target may not report through F; fuzz inputs are hostile anyway
	}
	installTransport.Do(func() {
		checked.tests, checked.seen = map[string]testing.TB{}, map[string]bool{}
		base := http.DefaultTransport
		http.DefaultClient.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return validatedRoundTrip(base, r)
		})
	})
	host := strings.TrimPrefix(strings.TrimPrefix(url, "http://"), "https://")
	checked.Lock()
	checked.tests[host] = tb
	checked.Unlock()
	tb.Cleanup(func() {
		checked.Lock()
		delete(checked.tests, host)
		checked.Unlock()
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func validatedRoundTrip(base http.RoundTripper, r *http.Request) (*http.Response, error) {
	checked.Lock()
	tb := checked.tests[r.URL.Host]
	checked.Unlock()
	if tb == nil {
		return base.RoundTrip(r)
	}
	var reqBody []byte
	if r.Body != nil {
		var err error
		if reqBody, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := base.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	probe := r.Clone(r.Context())
	probe.Body = io.NopCloser(bytes.NewReader(reqBody))
	escapeTilePath(probe.URL)
	if len(reqBody) > 0 && probe.Header.Get("Content-Type") == "" {
		probe.Header.Set("Content-Type", "application/json") // how the server reads such a body
	}
	route, params, routeErr := contract().router.FindRoute(probe)
	if routeErr != nil {
		// No operation: the document rejects the request, and the 404 or
		// 405 body is the error shape, checked by the tests.
		if resp.StatusCode < 400 || resp.StatusCode > 499 {
			report(tb, r, resp.StatusCode, "the document has no operation for this request, yet it got a non-4xx response", routeErr)
		}
		return resp, nil
	}
	in := &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil && (resp.StatusCode < 400 || resp.StatusCode > 499) {
		report(tb, r, resp.StatusCode, "the document rejects this request, yet it got a non-4xx response", err)
	}
	recordOperation(probe)
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var body []byte
	if mt == "application/json" || resp.Body == nil {
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(raw))
		if err != nil {
			return resp, nil // the test sees the short body itself
		}
		body = raw
	} else if err := documentedContentType(route, resp.StatusCode, mt); err != nil { // a stream: status and content type only
		report(tb, r, resp.StatusCode, "the response does not match the document", err)
	}
	probe.Body = io.NopCloser(bytes.NewReader(reqBody))
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body:    io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, ExcludeResponseBody: mt != "application/json", MultiError: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		report(tb, r, resp.StatusCode, "the response does not match the document", err)
	}
	return resp, nil
}

// documentedContentType checks that the document lists content type mt
// for the status of a response to route (ValidateResponse checks it only
// with the body).
func documentedContentType(route *routers.Route, status int, mt string) error {
	ref := route.Operation.Responses.Status(status)
	if ref == nil {
		ref = route.Operation.Responses.Default()
	}
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("status %d is not documented", status)
	}
	if len(ref.Value.Content) > 0 && ref.Value.Content.Get(mt) == nil {
		return fmt.Errorf("content type %q is not documented for status %d", mt, status)
	}
	return nil
}

// recordOperation notes which documented operation served a request: the
// literal path when documented (/referral/stats), else a template
// (/referral/{code}).
func recordOperation(r *http.Request) {
	ops := documentedOperations()
	op := r.Method + " " + r.URL.Path
	if !ops[op] {
		op = ""
		for candidate := range ops {
			method, template, _ := strings.Cut(candidate, " ")
			if method == r.Method && templateMatches(template, r.URL.EscapedPath()) {
				op = candidate
			}
		}
	}
	checked.Lock()
	checked.seen[op] = true
	checked.Unlock()
}

// tilePrefix is where the C2SP tlog-tiles paths start. A tile path has
// several segments (0/000.p/8, entries/x001/234) and an OpenAPI path
// parameter holds one, so the document declares one {path} parameter and
// the validator is shown it with its slashes escaped.
const tilePrefix = "/v1/api/audit/tile/"

func escapeTilePath(u *url.URL) {
	if rest, ok := strings.CutPrefix(u.Path, tilePrefix); ok {
		u.RawPath = tilePrefix + url.PathEscape(rest)
	}
}

func templateMatches(template, path string) bool {
	ts, ps := strings.Split(template, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i := range ts {
		if !strings.HasPrefix(ts[i], "{") && ts[i] != ps[i] {
			return false
		}
	}
	return true
}

// documentedOperations returns the document's operations as
// "METHOD /path" patterns, the form the server's Routes uses.
var documentedOperations = sync.OnceValue(func() map[string]bool {
	ops := map[string]bool{}
	for path, item := range contract().doc.Paths.Map() {
		for method := range item.Operations() {
			ops[strings.ToUpper(method)+" "+path] = true
		}
	}
	return ops
})

// report fails tb's test with err, each of its errors on a line of its
// own (a MultiError holds one for each part that failed).
func report(tb testing.TB, r *http.Request, status int, what string, err error) {
	var b strings.Builder
	var multi openapi3.MultiError
	if errors.As(err, &multi) {
		for _, e := range multi {
			fmt.Fprintf(&b, "\n  %v", e)
		}
	} else {
		fmt.Fprintf(&b, "\n  %v", err)
	}
	tb.Errorf("OpenAPI: %s %s -> %d: %s%s", r.Method, r.URL.RequestURI(), status, what, b.String())
}

// undocumented lists served routes the document may lack for now, each
// with the reason; it is empty when the document is complete.
var undocumented = map[string]string{}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(httpapi.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" || !doc.IsOpenAPI31OrLater() {
		t.Errorf("OpenAPI version %q, want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Errorf("document: %v", err)
	}
}

// TestOpenAPICoversRoutes fails when the server serves a route the
// document lacks, or the document describes one the server does not serve.
func TestOpenAPICoversRoutes(t *testing.T) {
	// The audit routes are served when an Auditor is configured; a nil
	// prover is enough to list them (no request reaches it here).
	s := newStack(t, "sqlite", httpapi.Config{Audit: (*audit.Prover)(nil)})
	served := map[string]bool{}
	for _, pattern := range s.api.Routes() {
		// A trailing wildcard {name...} is one path parameter in OpenAPI.
		pattern = strings.Replace(pattern, "...}", "}", 1)
		served[pattern] = true
		if !documentedOperations()[pattern] && undocumented[pattern] == "" {
			t.Errorf("%s is served but not in the OpenAPI document", pattern)
		}
	}
	for op := range documentedOperations() {
		if !served[op] {
			t.Errorf("%s is in the OpenAPI document but not served", op)
		}
	}
	for op := range undocumented {
		if documentedOperations()[op] {
			t.Errorf("%s is documented now: take it off the undocumented list", op)
		}
	}
}

func TestOpenAPIServedWithoutKey(t *testing.T) {
	s := newStack(t, "sqlite")
	resp := s.get(t, t.Context(), "", httpapi.OpenAPIPath, "")
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("got %d %q, want 200 application/json", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !bytes.Equal(raw, httpapi.OpenAPI()) {
		t.Error("the served document differs from httpapi.OpenAPI()")
	}
	for _, anchors := range []string{"x-std", "x-settings"} {
		if bytes.Contains(raw, []byte(anchors)) {
			t.Errorf("the served document still holds the anchors' %s", anchors)
		}
	}
}
