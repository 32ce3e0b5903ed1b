package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/referral-ledger/referral-ledger/adapters/audit"
)

// online checks the appspace's log as the API serves it.
func (c *auditVerifyCmd) online(ctx context.Context, e env) (tlog.Tree, error) {
	cl := &client{base: strings.TrimSuffix(c.URL, "/"), key: c.APIKey, http: &http.Client{Timeout: time.Minute}}
	var key struct {
		Origin, AppspaceID, AppspaceName string
	}
	var raw map[string]string
	if err := cl.getJSON(ctx, "/v1/api/audit/key", &raw); err != nil {
		return tlog.Tree{}, err
	}
	key.Origin, key.AppspaceID, key.AppspaceName = raw["origin"], raw["appspace_id"], raw["appspace_name"]
	if c.Appspace != key.AppspaceID && c.Appspace != key.AppspaceName {
		return tlog.Tree{}, fmt.Errorf("the API key is for appspace %s (%s), not %s", key.AppspaceName, key.AppspaceID, c.Appspace)
	}
	// The origin is derived, not taken from the server: a checkpoint of
	// another appspace's log fails here.
	origin := audit.Origin(key.AppspaceID)
	msg, err := cl.get(ctx, "/v1/api/audit/checkpoint")
	if err != nil {
		return tlog.Tree{}, err
	}
	tree, err := audit.OpenCheckpoint(msg, c.VerifierKey, origin)
	if err != nil {
		return tlog.Tree{}, err
	}
	if c.Trusted != "" {
		if err := c.consistent(ctx, cl, origin, tree); err != nil {
			return tlog.Tree{}, err
		}
	}
	if err := c.leaves(ctx, e, cl, tree); err != nil {
		return tlog.Tree{}, err
	}
	if c.Trusted != "" {
		if err := saveFile(c.Trusted, msg); err != nil {
			return tlog.Tree{}, fmt.Errorf("save the trusted checkpoint: %w", err)
		}
	}
	return tree, nil
}

// trustedPrefix reads the checkpoint in --trusted and checks what needs
// no proof: it is signed for origin, not larger than tree, and the same
// tree if of its size. It returns the trusted tree when tree must still be
// shown to extend it, nil when nothing is left to prove (first run: trust
// on first use; an empty or the same tree).
func (c *auditVerifyCmd) trustedPrefix(origin string, tree tlog.Tree) (*tlog.Tree, error) {
	old, err := os.ReadFile(c.Trusted)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	prev, err := audit.OpenCheckpoint(old, c.VerifierKey, origin)
	if err != nil {
		return nil, fmt.Errorf("trusted checkpoint %s: %w", c.Trusted, err)
	}
	switch {
	case prev.N > tree.N:
		return nil, fmt.Errorf("the log shrank: the trusted checkpoint has %d events, the new one %d", prev.N, tree.N)
	case prev.N == tree.N && prev.Hash != tree.Hash:
		return nil, fmt.Errorf("the log was rewritten: two checkpoints of %d events with different roots", tree.N)
	case prev.N == tree.N || prev.N == 0:
		return nil, nil
	}
	return &prev, nil
}

// consistent checks that tree extends the checkpoint in --trusted, with
// the server's consistency proof.
func (c *auditVerifyCmd) consistent(ctx context.Context, cl *client, origin string, tree tlog.Tree) error {
	prev, err := c.trustedPrefix(origin, tree)
	if prev == nil || err != nil {
		return err
	}
	var resp struct {
		Proof []tlog.Hash `json:"proof"`
	}
	if err := cl.getJSON(ctx, fmt.Sprintf("/v1/api/audit/proofs/consistency?from=%d&to=%d", prev.N, tree.N), &resp); err != nil {
		return err
	}
	if err := tlog.CheckTree(resp.Proof, tree.N, tree.Hash, prev.N, prev.Hash); err != nil {
		return fmt.Errorf("the new checkpoint does not extend the trusted one (%d events): %w", prev.N, err)
	}
	return nil
}

// leaves recomputes the tree from the events and compares it with tree.
func (c *auditVerifyCmd) leaves(ctx context.Context, e env, cl *client, tree tlog.Tree) error {
	var r audit.Rebuild
	progress := newMeter(e.stderr)
	err := streamLeaves(ctx, cl, &r, tree.N, func() {
		progress.show("checking leaves: %d/%d events", r.Size(), tree.N)
	})
	progress.done()
	if err != nil {
		return err
	}
	sealed := tlog.TileHashReader(tree, tiles{ctx: ctx, cl: cl})
	err = r.Check(tree, sealed)
	var m *audit.Mismatch
	if !errors.As(err, &m) || m.LeafIndex < 0 {
		return err
	}
	// Say which event was sealed there and what differs.
	var now *audit.Leaf
	var i int64
	if err := eachEvent(ctx, cl, func(l audit.Leaf) bool {
		if i == m.LeafIndex {
			now = &l
			return false
		}
		i++
		return true
	}); err != nil {
		return errors.Join(m, err)
	}
	m.Now = now
	n := m.LeafIndex >> audit.TileHeight
	w := min(int64(1)<<audit.TileHeight, tree.N-n<<audit.TileHeight)
	data, tErr := tiles{ctx: ctx, cl: cl}.ReadTiles([]tlog.Tile{{H: audit.TileHeight, L: -1, N: n, W: int(w)}})
	hashes, hErr := sealed.ReadHashes([]int64{tlog.StoredHashIndex(0, m.LeafIndex)})
	if tErr == nil && hErr == nil {
		if entries, err := audit.Entries(data[0]); err == nil && int64(len(entries)) > m.LeafIndex-n<<audit.TileHeight {
			m.Explain(entries[m.LeafIndex-n<<audit.TileHeight], hashes[0], now)
		}
	}
	return m
}

// streamLeaves adds to r the leaves of the appspace's events, in log
// order, until r holds n leaves or the log ends: one request, the events
// streamed as NDJSON, which r decodes and hashes on every core as they
// come.
func streamLeaves(ctx context.Context, cl *client, r *audit.Rebuild, n int64, progress func()) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the stream once r holds n leaves
	// The stream takes as long as the log is long: no time limit but
	// the context's.
	resp, err := cl.open(ctx, &http.Client{Transport: cl.http.Transport}, "/v1/api/events?after=0", "application/x-ndjson")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := r.AddLines(resp.Body, "", n, progress); err != nil {
		return fmt.Errorf("GET /v1/api/events: %w", err)
	}
	return nil
}

// eachEvent calls f with the leaf of each of the appspace's events, in log
// order, until f returns false or the log ends.
func eachEvent(ctx context.Context, cl *client, f func(audit.Leaf) bool) error {
	after := "0"
	for {
		var page struct {
			Events    []audit.Leaf    `json:"events"`
			NextAfter json.RawMessage `json:"next_after"`
		}
		if err := cl.getJSON(ctx, "/v1/api/events?limit=1000&after="+after, &page); err != nil {
			return err
		}
		for _, l := range page.Events {
			if !f(l) {
				return nil
			}
		}
		if len(page.Events) == 0 {
			return nil
		}
		after = string(page.NextAfter)
	}
}

// saveFile replaces path's content whole (temporary file, then rename).
func saveFile(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".checkpoint-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(b)
	if err = errors.Join(err, tmp.Sync(), tmp.Close()); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
