package httpapi_test

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"

	"github.com/referral-ledger/referral-ledger/adapters/audit"
	"github.com/referral-ledger/referral-ledger/adapters/httpapi"
)

// The OpenAPI document cannot drift from the handlers: every request the
// tests send through http.DefaultClient to a test server is checked
// against it, and so is every response. A request the document rejects
// must be answered with a 4xx (the tests send many bad requests on
// purpose); a response must match the document's status, content type and
// body schema. Streams (NDJSON, CSV) are checked up to their content type,
// since their bodies may never end.

// contract is the validator of the served document, built once.
var contract = sync.OnceValue(func() validator.Validator {
	doc, err := libopenapi.NewDocument(httpapi.OpenAPI())
	if err != nil {
		panic(err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		panic(fmt.Sprint(errs))
	}
	return v
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
	reqOK, reqErrs := contract().ValidateHttpRequest(probe)
	if !reqOK && (resp.StatusCode < 400 || resp.StatusCode > 499) {
		report(tb, r, resp.StatusCode, "the document rejects this request, yet it got a non-4xx response", reqErrs)
	}
	if missingRoute(reqErrs) {
		return resp, nil // no operation: the 404 or 405 body is the error shape, checked by the tests
	}
	recordOperation(probe)
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	view := *resp
	if mt == "application/json" || resp.Body == nil {
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(raw))
		if err != nil {
			return resp, nil // the test sees the short body itself
		}
		view.Body = io.NopCloser(bytes.NewReader(raw))
	} else {
		view.Body = io.NopCloser(strings.NewReader("")) // a stream: status and content type only
	}
	probe.Body = io.NopCloser(bytes.NewReader(reqBody))
	if ok, errs := contract().ValidateHttpResponse(probe, &view); !ok {
		report(tb, r, resp.StatusCode, "the response does not match the document", errs)
	}
	return resp, nil
}

// missingRoute reports whether the document has no operation for a request.
func missingRoute(errs []*verrors.ValidationError) bool {
	for _, e := range errs {
		if e.ValidationType == helpers.PathValidation &&
			(e.ValidationSubType == helpers.ValidationMissing || e.ValidationSubType == helpers.ValidationMissingOperation) {
			return true
		}
	}
	return false
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
	doc, err := libopenapi.NewDocument(httpapi.OpenAPI())
	if err != nil {
		panic(err)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		panic(err)
	}
	ops := map[string]bool{}
	for path, item := range model.Model.Paths.PathItems.FromOldest() {
		for method := range item.GetOperations().FromOldest() {
			ops[strings.ToUpper(method)+" "+path] = true
		}
	}
	return ops
})

func report(tb testing.TB, r *http.Request, status int, what string, errs []*verrors.ValidationError) {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  %s: %s", e.Message, e.Reason)
		for _, f := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "\n    %s: %s", f.FieldPath, f.Reason)
		}
	}
	tb.Errorf("OpenAPI: %s %s -> %d: %s%s", r.Method, r.URL.RequestURI(), status, what, b.String())
}

// undocumented lists served routes the document may lack for now, each
// with the reason; it is empty when the document is complete.
var undocumented = map[string]string{}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	doc, err := libopenapi.NewDocument(httpapi.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	if got := doc.GetSpecInfo().Version; got != "3.1.0" {
		t.Errorf("OpenAPI version %q, want 3.1.0", got)
	}
	if _, err := doc.BuildV3Model(); err != nil {
		t.Fatalf("build the v3 model: %v", err)
	}
	if ok, errs := contract().ValidateDocument(); !ok {
		for _, e := range errs {
			t.Errorf("document: %v", e)
		}
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
	if bytes.Contains(raw, []byte("x-std")) {
		t.Error("the served document still holds the anchors' x-std")
	}
}
