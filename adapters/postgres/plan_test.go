package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/referral-ledger/referral-ledger/adapters/postgres/pgtest"
	"github.com/referral-ledger/referral-ledger/domain"
)

// TestAppspaceReadsUseTheIndex: reading one appspace's part of the log in
// commit order is a range of the events_appspace index, not a walk of
// every appspace's events filtered one by one.
func TestAppspaceReadsUseTheIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, Config{URL: pgtest.SchemaURL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	// A log the planner sees as large: 20k events of appspace big, 10 of small.
	_, err = s.db.ExecContext(ctx, `INSERT INTO events (stream, version, id, type)
		SELECT CASE WHEN g <= 20000 THEN 'big:s' ELSE 'small:s' END, g, 'e' || g, 'T'
		FROM generate_series(1, 20010) g`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `ANALYZE events`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		after domain.Position
	}{
		{"from the start", 0},
		{"after a cursor", 20005},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, args := readAllQuery(domain.ReadAllOptions{After: tc.after, StreamPrefix: domain.StreamPrefix("small")}, 100)
			rows, err := s.db.QueryContext(ctx, "EXPLAIN "+q, args...)
			if err != nil {
				t.Fatal(err)
			}
			var plan []string
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, line)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			all := strings.Join(plan, "\n")
			if !strings.Contains(all, "using events_appspace on events") || strings.Contains(all, "Seq Scan on events") ||
				strings.Contains(all, "Sort") {
				t.Errorf("plan:\n%s\nwant a scan of the events_appspace index, no sequential scan, no sort", all)
			}
		})
	}
}
