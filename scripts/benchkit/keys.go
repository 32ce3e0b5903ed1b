package benchkit

import (
	"context"
	"path/filepath"

	"github.com/referral-ledger/referral-ledger/adapters/sqlstore"
)

// CacheKeys turns on a's key cache as serve does on s's kind of store (a
// revocation listener on PostgreSQL; the revocation file beside the
// database on SQLite) and returns what stops it.
func CacheKeys(ctx context.Context, a *sqlstore.Access, s Store) (func(), error) {
	if s.Name != "postgres" {
		a.SignalRevocations(filepath.Join(s.Dir, "ledger.db-revocations"))
		a.CacheKeys()
		return func() {}, nil
	}
	if err := a.WatchRevocations(ctx, s.URL); err != nil {
		return nil, err
	}
	return func() { _ = a.Close() }, nil
}
