package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/referral-ledger/referral-ledger/adapters/audit"
	"github.com/referral-ledger/referral-ledger/domain"
)

// Auditor answers the audit proof endpoints from the sealed Merkle trees
// (one per appspace).
type Auditor interface {
	// VerifierKey is the note verifier key of every checkpoint.
	VerifierKey() string
	// AppspaceName returns an appspace's name.
	AppspaceName(ctx context.Context, appspaceID string) (string, error)
	// Checkpoint returns the appspace's latest signed checkpoint and its
	// tree size. Errors: domain.ENotFound before the first.
	Checkpoint(ctx context.Context, appspaceID string) ([]byte, int64, error)
	// LeafIndexes returns the leaf index of each sealed event among ids.
	LeafIndexes(ctx context.Context, appspaceID string, ids []string) (map[string]int64, error)
	// Inclusion proves an event is in the tree of treeSize leaves (0:
	// the latest checkpoint's). Errors: domain.ENotFound, domain.EInvalid.
	Inclusion(ctx context.Context, appspaceID, eventID string, treeSize int64) (audit.Inclusion, error)
	// Consistency proves the tree of size to extends that of size from.
	// Errors: domain.EInvalid.
	Consistency(ctx context.Context, appspaceID string, from, to int64) (tlog.TreeProof, error)
	// Tile returns a hash tile or (level -1) an entry bundle.
	// Errors: domain.ENotFound.
	Tile(ctx context.Context, appspaceID string, t tlog.Tile) ([]byte, error)
}

func (s *Server) auditRoutes() []route {
	return []route{
		{"GET /v1/api/audit/checkpoint", domain.ScopeAuditRead, s.auditCheckpoint},
		{"GET /v1/api/audit/key", domain.ScopeAuditRead, s.auditKey},
		{"GET /v1/api/audit/proofs/inclusion", domain.ScopeAuditRead, s.auditInclusion},
		{"GET /v1/api/audit/proofs/consistency", domain.ScopeAuditRead, s.auditConsistency},
		{"GET /v1/api/audit/tile/{path...}", domain.ScopeAuditRead, s.auditTile},
	}
}

func (s *Server) auditCheckpoint(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	msg, _, err := s.cfg.Audit.Checkpoint(r.Context(), o.AppspaceID)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Add("Vary", "X-API-Key, Authorization") // the key says whose checkpoint
	_, _ = w.Write(msg)
	return nil
}

func (s *Server) auditKey(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	name, err := s.cfg.Audit.AppspaceName(r.Context(), o.AppspaceID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"origin": audit.Origin(o.AppspaceID),
		"verifier_key": s.cfg.Audit.VerifierKey(), "appspace_id": o.AppspaceID, "appspace_name": name})
	return nil
}

// inclusionJSON is an inclusion proof as the API shows it.
type inclusionJSON struct {
	LeafIndex int64       `json:"leaf_index"`
	TreeSize  int64       `json:"tree_size"`
	LeafHash  tlog.Hash   `json:"leaf_hash"`
	Proof     []tlog.Hash `json:"proof"`
}

func inclusionOf(p audit.Inclusion) inclusionJSON {
	proof := p.Proof
	if proof == nil {
		proof = tlog.RecordProof{}
	}
	return inclusionJSON{LeafIndex: p.LeafIndex, TreeSize: p.TreeSize, LeafHash: p.LeafHash, Proof: proof}
}

func (s *Server) auditInclusion(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	q := r.URL.Query()
	id := q.Get("event_id")
	if err := domain.ValidateID("event_id", id); err != nil {
		return err
	}
	size, err := parseSize(q.Get("tree_size"), "tree_size")
	if err != nil {
		return err
	}
	if size == 0 && q.Get("tree_size") != "" {
		// No tree of 0 leaves holds an event; 0 below means "absent".
		return domain.Errorf(domain.EInvalid, "tree_size must be at least 1 (omit it for the latest checkpoint's)")
	}
	p, err := s.cfg.Audit.Inclusion(r.Context(), o.AppspaceID, id, size) // 0: the latest checkpoint's tree
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, inclusionOf(p))
	return nil
}

func (s *Server) auditConsistency(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	q := r.URL.Query()
	from, err := parseSize(q.Get("from"), "from")
	if err != nil {
		return err
	}
	to, err := parseSize(q.Get("to"), "to")
	if err != nil {
		return err
	}
	if from == 0 || to == 0 {
		return domain.Errorf(domain.EInvalid, "from and to are required tree sizes (at least 1)")
	}
	proof, err := s.cfg.Audit.Consistency(r.Context(), o.AppspaceID, from, to)
	if err != nil {
		return err
	}
	if proof == nil {
		proof = tlog.TreeProof{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"from": from, "to": to, "proof": []tlog.Hash(proof)})
	return nil
}

// auditTile serves C2SP tlog-tiles paths: {L}/{N}[.p/{W}] and
// entries/{N}[.p/{W}], N in groups of three digits (x001/234).
func (s *Server) auditTile(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	p := r.PathValue("path")
	goPath := "tile/" + strconv.Itoa(audit.TileHeight) + "/" + p
	if rest, ok := strings.CutPrefix(p, "entries/"); ok {
		goPath = "tile/" + strconv.Itoa(audit.TileHeight) + "/data/" + rest
	}
	t, err := tlog.ParseTilePath(goPath)
	// "data" is Go's sumdb name for entries, not a C2SP level: entries
	// are served under one path only.
	if err != nil || t.H != audit.TileHeight || strings.HasPrefix(p, "data/") {
		return domain.Errorf(domain.EInvalid, "not a tile path: want {L}/{N}[.p/{W}] or entries/{N}[.p/{W}]")
	}
	data, err := s.cfg.Audit.Tile(r.Context(), o.AppspaceID, t)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	// The URL is every appspace's: the key says whose tile it is. A full
	// tile never changes, but only the key's holder may keep it: a shared
	// cache must not hand it to another key, or to a request with none.
	w.Header().Add("Vary", "X-API-Key, Authorization")
	if t.W == 1<<audit.TileHeight {
		w.Header().Set("Cache-Control", "private, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	_, _ = w.Write(data)
	return nil
}

// parseSize reads an optional tree size (0 when absent).
func parseSize(v, name string) (int64, error) {
	n, err := parseUint(v, name)
	return int64(n), err
}

// leafIndexes returns the leaf index of each of the events ids that is
// sealed (none without an Auditor).
func (s *Server) leafIndexes(ctx context.Context, app string, ids []string) (map[string]int64, error) {
	if s.cfg.Audit == nil || len(ids) == 0 {
		return nil, nil
	}
	return s.cfg.Audit.LeafIndexes(ctx, app, ids)
}

// auditedEvent is an event with its leaf index (null until sealed) and,
// in the audit trail, its inclusion proof against the checkpoint shown.
type auditedEvent struct {
	EventJSON
	LeafIndex *int64         `json:"leaf_index"`
	Inclusion *inclusionJSON `json:"inclusion,omitempty"`
}

// withLeaves adds the leaf indexes to evs.
func (s *Server) withLeaves(ctx context.Context, app string, evs []EventJSON) ([]auditedEvent, error) {
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	idx, err := s.leafIndexes(ctx, app, ids)
	if err != nil {
		return nil, err
	}
	out := make([]auditedEvent, len(evs))
	for i, e := range evs {
		out[i].EventJSON = e
		if n, ok := idx[e.ID]; ok {
			out[i].LeafIndex = &n
		}
	}
	return out, nil
}

func eventsOf(evs []domain.RecordedEvent) []EventJSON {
	out := make([]EventJSON, len(evs))
	for i, e := range evs {
		out[i] = EventOf(e)
	}
	return out
}

// auditTrail adds to a referral's events their leaf indexes and inclusion
// proofs against the latest checkpoint, which it returns (nil before one).
func (s *Server) auditTrail(ctx context.Context, app string, evs []EventJSON) ([]auditedEvent, *string, error) {
	out, err := s.withLeaves(ctx, app, evs)
	if err != nil || s.cfg.Audit == nil {
		return out, nil, err
	}
	msg, size, err := s.cfg.Audit.Checkpoint(ctx, app)
	if domain.ErrorCode(err) == domain.ENotFound {
		return out, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	for i, e := range out {
		if e.LeafIndex == nil || *e.LeafIndex >= size {
			continue // sealed after the checkpoint
		}
		p, err := s.cfg.Audit.Inclusion(ctx, app, e.ID, size)
		if err != nil {
			return nil, nil, err
		}
		incl := inclusionOf(p)
		out[i].Inclusion = &incl
	}
	text := string(msg)
	return out, &text, nil
}
