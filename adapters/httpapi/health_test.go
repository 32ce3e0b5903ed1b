package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestHealthz: /healthz answers without a key while the process is alive.
func TestHealthz(t *testing.T) {
	s := newStack(t, "sqlite")
	resp := s.get(t, t.Context(), "", "/healthz", "")
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || out["status"] != "ok" {
		t.Errorf("GET /healthz: %d %v, want 200 and status ok", resp.StatusCode, out)
	}
}
