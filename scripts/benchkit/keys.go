package benchkit

import (
	"context"

	"github.com/referral-ledger/referral-ledger/adapters/sqlstore"
)

// CacheKeys turns on a's key cache as serve does on s's kind of store (a
// revocation listener on PostgreSQL; none on SQLite, where serve looks keys
// up on every request) and returns what stops it.
func CacheKeys(ctx context.Context, a *sqlstore.Access, s Store) (func(), error) {
	if s.Name != "postgres" {
		return func() {}, nil
	}
	if err := a.WatchRevocations(ctx, s.URL); err != nil {
		return nil, err
	}
	return func() { _ = a.Close() }, nil
}
