package audit

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
)

// Tampered reports that the stored events no longer hash to the sealed
// tree, naming the first leaf whose event differs.
type Tampered struct {
	Appspace  string
	LeafIndex int64
	// EventID, Stream and Version are the sealed event's.
	EventID string
	Stream  string
	Version uint64
	// What says what differs.
	What string
}

func (t *Tampered) Error() string {
	return fmt.Sprintf("ledger tampered: appspace %s, leaf %d, event %s (stream %s, version %d): %s",
		t.Appspace, t.LeafIndex, t.EventID, t.Stream, t.Version, t.What)
}

// sealedLeaf is a row of audit_leaves.
type sealedLeaf struct {
	Index    int64  `db:"leaf_index"`
	EventID  string `db:"event_id"`
	Position int64  `db:"position"`
	Leaf     []byte `db:"leaf"`
}

// checkRange compares the events the store holds now with the leaves
// [from, to) of app sealed from them; it returns a *Tampered for the first
// that differs.
func checkRange(ctx context.Context, db *sqlx.DB, events domain.EventStore, app string, from, to int64) error {
	var after domain.Position
	if from > 0 {
		var prev sealedLeaf
		err := db.GetContext(ctx, &prev, db.Rebind(`SELECT leaf_index, event_id, position, leaf FROM audit_leaves
			WHERE appspace_id = ? AND leaf_index = ?`), app, from-1)
		if errors.Is(err, sql.ErrNoRows) {
			return missingLeaf(app, from-1, nil) // a sealed leaf's row deleted
		}
		if err != nil {
			return fmt.Errorf("read leaf %d: %w", from-1, err)
		}
		after = domain.Position(prev.Position)
		if _, err := events.ReadAll(ctx, domain.ReadAllOptions{After: after, Limit: 1}); errors.Is(err, domain.ErrUnknownPosition) {
			return tampered(app, prev, nil)
		}
	}
	var pending []domain.RecordedEvent
	next := func() (err error) {
		if len(pending) == 0 {
			pending, err = readEvents(ctx, events, app, after)
		}
		return err
	}
	for i := from; i < to; {
		var leaves []sealedLeaf
		if err := db.SelectContext(ctx, &leaves, db.Rebind(`SELECT leaf_index, event_id, position, leaf FROM audit_leaves
			WHERE appspace_id = ? AND leaf_index >= ? AND leaf_index < ? ORDER BY leaf_index`), app, i, min(to, i+1000)); err != nil {
			return fmt.Errorf("read leaves: %w", err)
		}
		if len(leaves) == 0 || leaves[0].Index != i {
			// Leaf i's row is missing: the tree's rows were changed.
			if err := next(); err != nil {
				return err
			}
			var now *domain.RecordedEvent
			if len(pending) > 0 {
				now = &pending[0]
			}
			return missingLeaf(app, i, now)
		}
		for _, l := range leaves {
			if l.Index != i {
				break // leaf i's row is missing: the next query says so
			}
			if err := next(); err != nil {
				return err
			}
			if len(pending) == 0 {
				return tampered(app, l, nil)
			}
			e := pending[0]
			pending, after = pending[1:], e.Position
			if !bytes.Equal(LeafOf(e).Bytes(), l.Leaf) {
				return tampered(app, l, &e)
			}
			i = l.Index + 1
		}
	}
	return nil
}

// tampered describes how the event now at a leaf's place differs from
// the one sealed there (now is nil when the log has no event there).
func tampered(app string, l sealedLeaf, now *domain.RecordedEvent) *Tampered {
	sealed, _ := ParseLeaf(l.Leaf)
	t := &Tampered{Appspace: app, LeafIndex: l.Index, EventID: l.EventID, Stream: sealed.Stream, Version: sealed.Version}
	switch {
	case now == nil:
		t.What = "the sealed event is missing from the log"
	case now.ID != l.EventID:
		t.What = fmt.Sprintf("the log has event %s (stream %s, version %d) in its place", now.ID, now.Stream, now.Version)
	default:
		t.What = "changed: " + Diff(sealed, LeafOf(*now))
	}
	return t
}
