package main

import (
	"context"
	"fmt"

	"github.com/referral-ledger/referral-ledger/adapters/audit"
)

type auditCheckCmd struct{}

// Run re-hashes every sealed tree whole from the stored events, as serve
// does at start-up. A tree that differs is marked tampered (a running
// serve then stops signing its checkpoints) and the command fails naming
// its first event that differs.
func (auditCheckCmd) Run(ctx context.Context, e env) error {
	return e.with(ctx, "", func(m *Main) error {
		progress := newMeter(e.stderr)
		var leaves int64
		err := audit.NewChecker(m.write, m.store, m.log).CheckAll(ctx, func(done, total int64) {
			leaves = total
			progress.show("audit check: %d/%d leaves", done, total)
		})
		progress.done()
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "ok: every sealed tree (%d leaves) matches the stored events\n", leaves)
		return nil
	})
}
