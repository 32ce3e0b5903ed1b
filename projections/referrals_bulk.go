package projections

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/internal/sqlstmt"
)

// bulkCacheBatches is how many batches' rows a bulk replay keeps in
// memory, at least: the batches not yet committed, and as many recent ones
// as fit, so that the referrals a batch continues are rarely loaded.
const bulkCacheBatches = 8

// bulkCache holds the rows the latest batches of a bulk replay wrote (or
// will write: a batch is prepared before the ones before it commit). A
// prepared batch takes a referral's row from here, else from the database,
// where a row missing from here has committed.
type bulkCache struct {
	gens      []bulkGen // oldest first
	prepared  int
	committed atomic.Int64 // how many prepared batches have committed
}

// bulkGen is the rows one batch wrote: its seq-th, from 1.
type bulkGen struct {
	seq  int
	rows map[referralKey]domain.ReferralView
}

// prepareBulk applies a batch of a rebuild's bulk in memory, from the rows
// of the batches before it, and returns the statements that write it. The
// leaderboard windows must be deferred: they read the database as of the
// batch.
func (p *Referrals) prepareBulk(ctx context.Context, events []domain.RecordedEvent) (bulkWrite, error) {
	if !p.deferWindows {
		return nil, errors.New("referrals: a bulk replay must defer the leaderboard windows")
	}
	if p.bulk == nil {
		p.bulk = &bulkCache{}
	}
	c := p.bulk
	for len(c.gens) > bulkCacheBatches && int64(c.gens[0].seq) <= c.committed.Load() {
		c.gens = c.gens[1:]
	}
	keys := batchKeys(events)
	before := make(map[referralKey]domain.ReferralView, len(keys))
	var missing []referralKey
	for _, k := range keys {
		if v, ok := c.lookup(k); ok {
			before[k] = v
		} else {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		loaded, err := loadReferrals(ctx, p.read, p.tables, missing)
		if err != nil {
			return nil, err
		}
		for k, v := range loaded {
			before[k] = v
		}
	}
	b, err := applyBatch(keys, before, events)
	if err != nil {
		return nil, err
	}
	stmts, err := b.statements(p.read.DriverName(), p.tables, true)
	if err != nil {
		return nil, err
	}
	c.prepared++
	gen := bulkGen{seq: c.prepared, rows: make(map[referralKey]domain.ReferralView, len(b.changes))}
	for _, ch := range b.changes {
		gen.rows[referralKey{ch.now.AppspaceID, ch.now.ReferralCode}] = ch.now
	}
	c.gens = append(c.gens, gen)
	return func(ctx context.Context, tx *sqlx.Tx, cache *sqlstmt.Cache) error {
		return execAll(ctx, tx, stmts, cache)
	}, nil
}

// bulkCommitted records that the oldest batch not yet committed has.
func (p *Referrals) bulkCommitted() {
	if p.bulk != nil {
		p.bulk.committed.Add(1)
	}
}

// lookup returns the latest row of k the cache holds.
func (c *bulkCache) lookup(k referralKey) (domain.ReferralView, bool) {
	for i := len(c.gens) - 1; i >= 0; i-- {
		if v, ok := c.gens[i].rows[k]; ok {
			return v, true
		}
	}
	return domain.ReferralView{}, false
}
