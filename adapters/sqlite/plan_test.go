package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/referral-ledger/referral-ledger/domain"
)

// TestAppspaceReadsUseTheIndex: reading one appspace's part of the log is a
// range of the events_appspace index, not a scan of every appspace's events.
func TestAppspaceReadsUseTheIndex(t *testing.T) {
	t.Parallel()
	s, err := Open(context.Background(), Config{Path: filepath.Join(t.TempDir(), "ledger.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	opts := domain.ReadAllOptions{After: 7, StreamPrefix: domain.StreamPrefix("app_1")}
	readAll, readArgs := readAllQuery(opts, 100)
	exists, existsArgs := existsQuery(opts)
	for _, tc := range []struct {
		name string
		q    string
		args []any
	}{
		{"ReadAll", readAll, readArgs},
		{"WaitForEvents", exists, existsArgs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := s.read.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+tc.q, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			all := strings.Join(plan, "; ")
			if !strings.Contains(all, "SEARCH events USING") || !strings.Contains(all, "INDEX events_appspace (") || strings.Contains(all, "SCAN events") ||
				strings.Contains(all, "TEMP B-TREE") {
				t.Errorf("plan %q: want a search of events_appspace, with no scan and no sort", all)
			}
		})
	}
}
