package httpapi

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"

	"gopkg.in/yaml.v3"
)

// OpenAPIPath is where the server serves its OpenAPI document, without a key.
const OpenAPIPath = "/v1/openapi.json"

// openAPIYAML is the contract, written by hand beside the handlers: YAML so
// that anchors can share the error responses every operation has.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// openAPIJSON is the document as served, built once at start.
var openAPIJSON = mustOpenAPIJSON(openAPIYAML)

// OpenAPI returns the OpenAPI 3.1 document of the API, as JSON.
func OpenAPI() []byte { return openAPIJSON }

// mustOpenAPIJSON converts the YAML document to JSON, resolving anchors and
// dropping the top-level x-std and x-settings, which hold only the
// anchors' sources. A document that does not convert is a build mistake
// the tests catch.
func mustOpenAPIJSON(src []byte) []byte {
	var doc map[string]any
	if err := yaml.Unmarshal(src, &doc); err != nil {
		panic(fmt.Sprintf("openapi.yaml: %v", err))
	}
	delete(doc, "x-std")
	delete(doc, "x-settings")
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(fmt.Sprintf("openapi.yaml: %v", err))
	}
	return out
}

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(openAPIJSON) // the client may have gone; nothing to do
}
