package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/referral-ledger/referral-ledger/adapters/audit"
)

type auditCmd struct {
	Keygen auditKeygenCmd `cmd:"" help:"Print a new checkpoint signer key and its verifier key."`
	Verify auditVerifyCmd `cmd:"" help:"Check a log against its signed checkpoint, leaf by leaf."`
	Check  auditCheckCmd  `cmd:"" help:"Re-hash every appspace's stored tree against the stored events (as serve does at start-up)."`
}

type auditKeygenCmd struct{}

func (auditKeygenCmd) Run(e env) error {
	skey, vkey, err := audit.GenerateKey()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "# LEDGER_CHECKPOINT_SIGNING_KEY (secret)\n%s\n# verifier key (publish)\n%s\n", skey, vkey)
	return nil
}

type auditVerifyCmd struct {
	URL         string `name:"url" help:"Base URL of the API (online check)."`
	Appspace    string `help:"The appspace (name or ID; offline, its ID) the checkpoint must be for."`
	VerifierKey string `name:"verifier-key" required:"" help:"Note verifier key of the checkpoints (GET /v1/api/audit/key)."`
	Trusted     string `help:"File with a checkpoint verified earlier: the new one must extend it; it is then replaced."`
	Export      string `type:"existingfile" help:"Offline: an events export (JSON lines) to check."`
	Checkpoint  string `type:"existingfile" help:"Offline: the signed checkpoint to check the export against."`
	APIKey      string `name:"api-key" env:"LEDGER_API_KEY" help:"API key with the audit:read and events:read scopes."`
}

func (c *auditVerifyCmd) Run(ctx context.Context, e env) error {
	var (
		tree tlog.Tree
		err  error
	)
	switch {
	case c.Export != "" && c.Checkpoint != "":
		tree, err = c.offline(e)
	case c.URL != "" && c.Appspace != "":
		tree, err = c.online(ctx, e)
	default:
		return errors.New("give --url and --appspace, or --export and --checkpoint")
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "ok: %d events match the signed checkpoint (root %s)\n", tree.N, tree.Hash)
	return nil
}

// offline checks an export against a checkpoint file.
func (c *auditVerifyCmd) offline(e env) (tlog.Tree, error) {
	msg, err := os.ReadFile(c.Checkpoint)
	if err != nil {
		return tlog.Tree{}, err
	}
	origin, _, err := audit.ParseCheckpoint(textOf(msg))
	if err != nil {
		return tlog.Tree{}, err
	}
	if c.Appspace != "" && origin != audit.Origin(c.Appspace) {
		// Offline there is no name to look up: --appspace is the ID.
		return tlog.Tree{}, fmt.Errorf("the checkpoint is for %q, not %q (offline, --appspace is the appspace ID)",
			origin, audit.Origin(c.Appspace))
	}
	tree, err := audit.OpenCheckpoint(msg, c.VerifierKey, origin)
	if err != nil {
		return tlog.Tree{}, err
	}
	prefix := strings.TrimPrefix(origin, audit.Origin("")) + ":"
	f, err := os.Open(c.Export)
	if err != nil {
		return tlog.Tree{}, err
	}
	defer f.Close()
	var r audit.Rebuild
	progress := newMeter(e.stderr)
	defer progress.done()
	if err := r.AddLines(f, prefix, tree.N, func() {
		progress.show("checking leaves: %d/%d events", r.Size(), tree.N)
	}); err != nil {
		return tlog.Tree{}, fmt.Errorf("%s: %w", c.Export, err)
	}
	if err := r.Check(tree, nil); err != nil {
		return tlog.Tree{}, err
	}
	if c.Trusted != "" {
		if err := c.extendsTrusted(origin, tree, &r); err != nil {
			return tlog.Tree{}, err
		}
		if err := saveFile(c.Trusted, msg); err != nil {
			return tlog.Tree{}, fmt.Errorf("save the trusted checkpoint: %w", err)
		}
	}
	return tree, nil
}

// extendsTrusted checks, offline, that tree extends the checkpoint in
// --trusted: r holds the leaves of tree, verified, so the trusted root
// must be the root of its first leaves.
func (c *auditVerifyCmd) extendsTrusted(origin string, tree tlog.Tree, r *audit.Rebuild) error {
	prev, err := c.trustedPrefix(origin, tree)
	if prev == nil || err != nil {
		return err
	}
	root, err := tlog.TreeHash(prev.N, r)
	if err != nil {
		return err
	}
	if root != prev.Hash {
		return fmt.Errorf("the new checkpoint does not extend the trusted one (%d events): the export's first %d events hash to another root",
			prev.N, prev.N)
	}
	return nil
}

// textOf is a signed note's text (before its blank line).
func textOf(msg []byte) string {
	text, _, _ := strings.Cut(string(msg), "\n\n")
	return text + "\n"
}

// client reads the audit API.
type client struct {
	base, key string
	http      *http.Client
}

func (cl *client) get(ctx context.Context, path string) ([]byte, error) {
	resp, err := cl.open(ctx, cl.http, path, "")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(io.LimitReader(resp.Body, 64<<20))
}

// open sends a GET through hc and returns the response if it is a 200.
func (cl *client) open(ctx context.Context, hc *http.Client, path, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cl.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-API-Key", cl.key)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	return resp, nil
}

func (cl *client) getJSON(ctx context.Context, path string, v any) error {
	b, err := cl.get(ctx, path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// tiles reads tiles from the API, for tlog.TileHashReader.
type tiles struct {
	ctx context.Context
	cl  *client
}

func (t tiles) Height() int { return audit.TileHeight }

func (t tiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, tile := range ts {
		p := strings.TrimPrefix(tile.Path(), "tile/"+strconv.Itoa(audit.TileHeight)+"/")
		p = strings.Replace(p, "data/", "entries/", 1)
		b, err := t.cl.get(t.ctx, "/v1/api/audit/tile/"+p)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

func (tiles) SaveTiles([]tlog.Tile, [][]byte) {}
