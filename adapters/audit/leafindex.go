package audit

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// idLeaf is an event's leaf index.
type idLeaf struct {
	ID    string
	Index int64
}

// LeafIndexes returns the leaf index of each sealed event among ids.
// ids that follow one another in the appspace's log (a page of /events)
// are consecutive leaves: it reads the leaves from the first id's on as
// one range of the tree, and looks up by id only those the range does
// not hold in the same order (a page filtered by type, events not sealed
// yet).
func (p *Prover) LeafIndexes(ctx context.Context, app string, ids []string) (map[string]int64, error) {
	out := make(map[string]int64, len(ids))
	var missing []string
	if len(ids) > 1 {
		rows, err := idLeaves(ctx, p.q, p.db.Rebind(`SELECT event_id, leaf_index FROM audit_leaves
			WHERE appspace_id = ? AND leaf_index >= (SELECT leaf_index FROM audit_leaves WHERE appspace_id = ? AND event_id = ?)
			ORDER BY leaf_index LIMIT ?`), app, app, ids[0], len(ids))
		if err != nil {
			return nil, err
		}
		for k, id := range ids {
			if k < len(rows) && rows[k].ID == id {
				out[id] = rows[k].Index
			} else {
				missing = append(missing, id)
			}
		}
		ids = missing
	}
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 500)]
		ids = ids[len(chunk):]
		q, args, err := sqlx.In(`SELECT event_id, leaf_index FROM audit_leaves WHERE appspace_id = ? AND event_id IN (?)`, app, chunk)
		if err != nil {
			return nil, err
		}
		rows, err := idLeaves(ctx, p.db, p.db.Rebind(q), args...)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[r.ID] = r.Index
		}
	}
	return out, nil
}

// idLeaves runs a query of (event_id, leaf_index) rows. (It scans them
// itself: a stream of /events asks for a thousand a page, and sqlx's
// reflection was most of the cost.)
func idLeaves(ctx context.Context, q sqlx.QueryerContext, query string, args ...any) (out []idLeaf, err error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read leaf indexes: %w", err)
	}
	defer func() {
		if cerr := rows.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("read leaf indexes: %w", cerr)
		}
	}()
	for rows.Next() {
		var r idLeaf
		if err := rows.Scan(&r.ID, &r.Index); err != nil {
			return nil, fmt.Errorf("read leaf indexes: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read leaf indexes: %w", err)
	}
	return out, nil
}
