package httpapi_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/referral-ledger/referral-ledger/adapters/audit"
	"github.com/referral-ledger/referral-ledger/adapters/httpapi"
	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

// lateAuditor is the stack's Auditor, whose prover is set once the stack
// has opened the database the prover reads.
type lateAuditor struct{ *audit.Prover }

// auditedStack is a stack serving the audit proof endpoints, with a sealer
// and a notary the test steps by hand.
type auditedStack struct {
	*stack
	verifier string
	seal     func(tb testing.TB) tlog.Tree // seals what is new, signs, returns the checkpoint's tree
}

func newAuditedStack(t *testing.T, kind string) *auditedStack {
	t.Helper()
	late := &lateAuditor{}
	s := newStack(t, kind, httpapi.Config{Audit: late})
	signer, verifier, err := audit.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	key, err := audit.ParseKey(signer)
	if err != nil {
		t.Fatal(err)
	}
	late.Prover = audit.NewProver(s.write, key)
	sealer, err := projections.NewRunner(s.store, s.write, audit.NewSealer(nil), projections.RunnerConfig{Name: audit.SealerName})
	if err != nil {
		t.Fatal(err)
	}
	notary, err := audit.NewNotary(audit.NotaryConfig{DB: s.write, Events: s.store, Key: key, Interval: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	a := &auditedStack{stack: s, verifier: verifier}
	a.seal = func(tb testing.TB) tlog.Tree {
		tb.Helper()
		want := len(s.events(tb, s.space)) // every event the test wrote, visible
		for {
			n, err := sealer.Step(context.Background())
			if err != nil {
				tb.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		if err := notary.SignAll(context.Background()); err != nil {
			tb.Fatal(err)
		}
		tree := a.checkpoint(tb)
		if tree.N != int64(want) {
			tb.Fatalf("checkpoint of %d events, want %d", tree.N, want)
		}
		return tree
	}
	return a
}

// checkpoint reads GET /audit/checkpoint and opens it with the verifier key.
func (a *auditedStack) checkpoint(tb testing.TB) tlog.Tree {
	tb.Helper()
	resp := a.get(tb, context.Background(), a.key, "/v1/api/audit/checkpoint", "")
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("checkpoint: %d %s", resp.StatusCode, msg)
	}
	tree, err := audit.OpenCheckpoint(msg, a.verifier, audit.Origin(a.space))
	if err != nil {
		tb.Fatalf("checkpoint %q: %v", msg, err)
	}
	return tree
}

// TestAuditProofEndpoints checks each proof endpoint's answer with the
// tlog functions an auditor would use: the checkpoint opens with the key
// /audit/key gives, every event's inclusion proof and the consistency proof
// between two checkpoints verify, and the tiles hold the leaves' hashes
// and bytes.
func TestAuditProofEndpoints(t *testing.T) {
	s := newAuditedStack(t, "sqlite")
	status, out := s.call(t, s.key, "GET", "/v1/api/audit/checkpoint", nil)
	wantError(t, status, out, http.StatusNotFound, "not_found") // nothing sealed yet
	for i := range 3 {
		s.create(t, fmt.Sprint("ref", i))
	}
	first := s.seal(t)

	k := s.must(t, http.StatusOK, "GET", "/v1/api/audit/key", nil)
	if k["verifier_key"] != s.verifier || k["origin"] != audit.Origin(s.space) || k["appspace_name"] != "default" {
		t.Errorf("key %v, want verifier %s and origin %s", k, s.verifier, audit.Origin(s.space))
	}

	evs := s.events(t, s.space)
	for i, e := range evs {
		out := s.must(t, http.StatusOK, "GET", fmt.Sprintf("/v1/api/audit/proofs/inclusion?event_id=%s&tree_size=%d", e.ID, first.N), nil)
		var p struct {
			LeafIndex int64       `json:"leaf_index"`
			TreeSize  int64       `json:"tree_size"`
			LeafHash  tlog.Hash   `json:"leaf_hash"`
			Proof     []tlog.Hash `json:"proof"`
		}
		remarshal(t, out, &p)
		leaf := audit.LeafOf(e).Hash()
		if p.LeafIndex != int64(i) || p.TreeSize != first.N || p.LeafHash != leaf {
			t.Errorf("event %d: leaf %d of %d, hash %v; want %d of %d, %v", i, p.LeafIndex, p.TreeSize, p.LeafHash, i, first.N, leaf)
		}
		if err := tlog.CheckRecord(p.Proof, first.N, first.Hash, int64(i), leaf); err != nil {
			t.Errorf("event %d: inclusion proof: %v", i, err)
		}
	}
	status, out = s.call(t, s.key, "GET", "/v1/api/audit/proofs/inclusion?event_id="+domain.NewID(), nil)
	wantError(t, status, out, http.StatusNotFound, "not_found")
	status, out = s.call(t, s.key, "GET", fmt.Sprintf("/v1/api/audit/proofs/inclusion?event_id=%s&tree_size=%d", evs[0].ID, first.N+5), nil)
	if status != http.StatusBadRequest && status != http.StatusNotFound {
		t.Errorf("inclusion in a tree larger than the log: %d %v, want 400 or 404", status, out)
	}

	s.create(t, "ref-late")
	second := s.seal(t)
	var c struct {
		From, To int64
		Proof    []tlog.Hash
	}
	remarshal(t, s.must(t, http.StatusOK, "GET", fmt.Sprintf("/v1/api/audit/proofs/consistency?from=%d&to=%d", first.N, second.N), nil), &c)
	if c.From != first.N || c.To != second.N {
		t.Errorf("consistency from %d to %d, want %d to %d", c.From, c.To, first.N, second.N)
	}
	if err := tlog.CheckTree(c.Proof, second.N, second.Hash, first.N, first.Hash); err != nil {
		t.Errorf("consistency proof: %v", err)
	}
	status, out = s.call(t, s.key, "GET", "/v1/api/audit/proofs/consistency?from=0&to=1", nil)
	wantError(t, status, out, http.StatusBadRequest, "invalid_request")

	checkTiles(t, s, second.N)
}

// checkTiles reads the level-0 hash tile and the entry bundle of a tree
// of n < 256 leaves and compares them with the log's events.
func checkTiles(t *testing.T, s *auditedStack, n int64) {
	t.Helper()
	evs := s.events(t, s.space)
	hashes := s.tile(t, fmt.Sprintf("0/000.p/%d", n))
	entries := s.tile(t, fmt.Sprintf("entries/000.p/%d", n))
	if int64(len(hashes)) != n*tlog.HashSize {
		t.Fatalf("hash tile of %d bytes, want %d", len(hashes), n*tlog.HashSize)
	}
	for i, e := range evs {
		leaf := audit.LeafOf(e)
		if got, want := hashes[i*tlog.HashSize:(i+1)*tlog.HashSize], leaf.Hash(); string(got) != string(want[:]) {
			t.Errorf("hash tile entry %d differs from event %d's leaf hash", i, i)
		}
		if len(entries) < 2 {
			t.Fatalf("entry bundle ends before entry %d", i)
		}
		size := int(binary.BigEndian.Uint16(entries))
		if got := string(entries[2 : 2+size]); got != string(leaf.Bytes()) {
			t.Errorf("entry %d: %q, want %q", i, got, leaf.Bytes())
		}
		entries = entries[2+size:]
	}
	status, out := s.call(t, s.key, "GET", "/v1/api/audit/tile/not/a/tile", nil)
	wantError(t, status, out, http.StatusBadRequest, "invalid_request")
}

func (a *auditedStack) tile(t *testing.T, path string) []byte {
	t.Helper()
	resp := a.get(t, context.Background(), a.key, "/v1/api/audit/tile/"+path, "")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("tile %s: %d %q %q", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	return body
}

func remarshal(t *testing.T, in map[string]any, out any) {
	t.Helper()
	raw, _ := json.Marshal(in)
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
}
