package main

import (
	"context"
	"strings"
)

// cacheKeys lets serve keep authenticated API keys in memory for a moment.
// On PostgreSQL every replica listens for revocations (from any replica or
// the CLI) and drops a revoked key at once; on SQLite serve is the one
// serving process and drops what it revokes itself, and a revocation by the
// CLI beside it takes effect within the cache's two seconds.
func (m *Main) cacheKeys(ctx context.Context) error {
	u := m.cfg.DatabaseURL
	if strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		return m.access.WatchRevocations(ctx, u)
	}
	m.access.CacheKeys()
	return nil
}
