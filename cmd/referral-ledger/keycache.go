package main

import (
	"context"
	"strings"
)

// cacheKeys lets serve keep authenticated API keys in memory for a moment
// where a revocation reaches it at once: on PostgreSQL every replica
// listens for revocations (from any replica or the CLI) and drops a revoked
// key as the notification arrives; on SQLite the CLI, another process,
// signals through a file in the data dir (revocationsFile) that serve
// looks at on every request.
func (m *Main) cacheKeys(ctx context.Context) error {
	u := m.cfg.DatabaseURL
	if strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		return m.access.WatchRevocations(ctx, u)
	}
	if u == "" {
		m.access.CacheKeys()
	}
	return nil
}

// revocationsFile is the embedded profile's revocation signal, beside the
// database (see sqlstore.Access.SignalRevocations).
const revocationsFile = "ledger.db-revocations"
