package audit

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
	"golang.org/x/mod/sumdb/tlog"
)

// querier is a database or a transaction.
type querier interface {
	sqlx.QueryerContext
	sqlx.ExecerContext
	Rebind(string) string
}

// hashStore reads an appspace's stored hashes from SQL, and holds the
// hashes a sealing batch computed but has not written yet.
type hashStore struct {
	ctx      context.Context
	q        querier
	appspace string
	pending  map[int64]tlog.Hash
}

func newHashStore(ctx context.Context, q querier, appspace string) *hashStore {
	return &hashStore{ctx: ctx, q: q, appspace: appspace, pending: map[int64]tlog.Hash{}}
}

// ReadHashes implements tlog.HashReader: the hashes at indexes, in order.
func (h *hashStore) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	found := make(map[int64]tlog.Hash, len(indexes))
	var missing []int64
	for _, i := range indexes {
		if v, ok := h.pending[i]; ok {
			found[i] = v
		} else {
			missing = append(missing, i)
		}
	}
	for len(missing) > 0 {
		chunk := missing[:min(len(missing), 500)]
		missing = missing[len(chunk):]
		q, args, err := sqlx.In(`SELECT hash_index, hash FROM audit_hashes WHERE appspace_id = ? AND hash_index IN (?)`,
			h.appspace, chunk)
		if err != nil {
			return nil, err
		}
		rows, err := h.q.QueryxContext(h.ctx, h.q.Rebind(q), args...)
		if err != nil {
			return nil, fmt.Errorf("read tree hashes: %w", err)
		}
		for rows.Next() {
			var i int64
			var b []byte
			if err := rows.Scan(&i, &b); err != nil {
				return nil, fmt.Errorf("read tree hashes: %w", err)
			}
			var v tlog.Hash
			copy(v[:], b)
			found[i] = v
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read tree hashes: %w", err)
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	out := make([]tlog.Hash, len(indexes))
	for k, i := range indexes {
		v, ok := found[i]
		if !ok {
			return nil, fmt.Errorf("tree hash %d of appspace %s is missing", i, h.appspace)
		}
		out[k] = v
	}
	return out, nil
}

// flush writes the pending hashes.
func (h *hashStore) flush() error {
	rows := make([][]any, 0, len(h.pending))
	for i, v := range h.pending {
		rows = append(rows, []any{h.appspace, i, v[:]})
	}
	if err := insertRows(h.ctx, h.q, `INSERT INTO audit_hashes (appspace_id, hash_index, hash) VALUES `, 3, rows); err != nil {
		return fmt.Errorf("write tree hashes: %w", err)
	}
	clear(h.pending)
	return nil
}

// insertRows inserts rows with multi-row INSERTs of at most 200 rows.
func insertRows(ctx context.Context, q querier, head string, width int, rows [][]any) error {
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", width), ", ") + ")"
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), 200)]
		rows = rows[len(chunk):]
		tuples := make([]string, len(chunk))
		args := make([]any, 0, len(chunk)*width)
		for k, r := range chunk {
			tuples[k] = tuple
			args = append(args, r...)
		}
		if _, err := q.ExecContext(ctx, q.Rebind(head+strings.Join(tuples, ", ")), args...); err != nil {
			return err
		}
	}
	return nil
}
