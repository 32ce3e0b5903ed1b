package postgres

import (
	"context"
	"database/sql"
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
	s := openPlanStore(t)
	// A log the planner sees as large: 20k events of appspace big, 10 of small.
	_, err := s.db.ExecContext(ctx, `INSERT INTO events (stream, version, id, type)
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
			all := planText(t, rows)
			if !strings.Contains(all, "using events_appspace on events") || strings.Contains(all, "Seq Scan on events") ||
				strings.Contains(all, "Sort") {
				t.Errorf("plan:\n%s\nwant a scan of the events_appspace index, no sequential scan, no sort", all)
			}
		})
	}
}

// TestCommandReadsSeekByKey: the reads of a command (a stream's last
// event, a referral stream's events, the batches of both, and
// ledger_append's check of a stream's revision) are seeks of
// events_stream_version_key, whatever the planner knows: before any
// ANALYZE and after one, with a referrer stream of 10k events beside 20k
// referral streams, in generic plans as in custom ones. So a referrer with
// a long history costs its commands what a new one does. (Commands read
// whole streams only of referrals, which are short: the planner may sort
// their few rows, found by a seek all the same.)
func TestCommandReadsSeekByKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openPlanStore(t)
	_, err := s.db.ExecContext(ctx, `INSERT INTO events (stream, version, id, type)
		SELECT CASE WHEN g <= 10000 THEN 'as:referrer:big' ELSE 'as:referral:c' || g END,
			CASE WHEN g <= 10000 THEN g ELSE 1 END, 'e' || g, 'T'
		FROM generate_series(1, 30000) g`)
	if err != nil {
		t.Fatal(err)
	}
	// sorted: the plan may sort the few rows of a referral stream that a
	// seek found (a bitmap scan does, when the planner expects few).
	queries := map[string]struct {
		q, args string
		sorted  bool
	}{
		"last":                {readLastQuery, `('as:referrer:big')`, false},
		"range":               {readStreamQuery, `('as:referral:c20000', 1, 1000)`, true},
		"batch LL":            {batchQuery("LL"), `('as:settings', 'as:referrer:big')`, false},
		"batch LRL":           {batchQuery("LRL"), `('as:settings', 'as:referral:c20000', 1, 1000, 'as:referrer:big')`, true},
		"ledger_append check": {`SELECT e.version FROM events e WHERE e.stream = $1 ORDER BY e.version DESC LIMIT 1`, `('as:referrer:big')`, false},
	}
	for _, stats := range []string{"no statistics", "analyzed"} {
		if stats == "analyzed" {
			if _, err := s.db.ExecContext(ctx, `ANALYZE events`); err != nil {
				t.Fatal(err)
			}
		}
		for name, tc := range queries {
			for _, mode := range []string{"force_generic_plan", "force_custom_plan"} {
				plan := explainPrepared(t, s, tc.q, mode, tc.args)
				if !strings.Contains(plan, "events_stream_version_key") || strings.Contains(plan, "Seq Scan") ||
					strings.Contains(plan, "events_pkey") || !tc.sorted && strings.Contains(plan, "Sort") {
					t.Errorf("%s, %s, %s: plan:\n%s\nwant seeks of events_stream_version_key only, no sort of a long stream", stats, name, mode, plan)
				}
			}
		}
	}
}

// openPlanStore opens a store on a schema of the test's own.
func openPlanStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{URL: pgtest.SchemaURL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// explainPrepared prepares q on one connection and explains its execution
// with args under plan_cache_mode mode.
func explainPrepared(t *testing.T, s *Store, q, mode, args string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, stmt := range []string{"SET plan_cache_mode = " + mode, "PREPARE p AS " + q} {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	defer func() { _, _ = conn.ExecContext(ctx, "DEALLOCATE p; RESET plan_cache_mode") }()
	rows, err := conn.QueryContext(ctx, "EXPLAIN EXECUTE p"+args)
	if err != nil {
		t.Fatal(err)
	}
	return planText(t, rows)
}

// planText reads the lines of an EXPLAIN and closes rows.
func planText(t *testing.T, rows *sql.Rows) string {
	t.Helper()
	defer rows.Close()
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
	return strings.Join(plan, "\n")
}
