package main

import (
	"context"
	"strings"
)

// cacheKeys lets serve keep authenticated API keys in memory for a moment
// where a revocation can reach it at once: on PostgreSQL every replica
// listens for revocations (from any replica or the CLI) and drops a revoked
// key as the notification arrives. SQLite has no notifications and keys are
// revoked by the CLI, another process, so serve looks keys up on every
// request there (a revoked key must be refused at once, not within the
// cache's two seconds).
func (m *Main) cacheKeys(ctx context.Context) error {
	u := m.cfg.DatabaseURL
	if strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		return m.access.WatchRevocations(ctx, u)
	}
	return nil
}
