package projections

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/adapters/storetest"
)

// The rebuild's written-out tables have the live read models' columns,
// keys and indexes, so a migration that changes a read model cannot leave
// the rebuild behind. Twice: the second rebuild's index names differ.
func TestRebuildTablesMatchLive(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, kind string) {
		ctx := context.Background()
		_, db, _ := storetest.Open(t, kind)
		for round := range 2 {
			if err := createShadow(ctx, db); err != nil {
				t.Fatal(err)
			}
			if err := indexShadow(ctx, db); err != nil {
				t.Fatal(err)
			}
			rebuilt := rebuildTables.all()
			for i, live := range liveTables.all() {
				if diff := cmp.Diff(tableShape(t, db, rebuilt[i]), tableShape(t, db, live)); diff != "" {
					t.Errorf("round %d: %s differs from %s (-rebuild +live):\n%s", round, rebuilt[i], live, diff)
				}
			}
			if round == 0 { // what a switch-over does, minus the data
				for i, live := range liveTables.all() {
					for _, q := range []string{`DROP TABLE ` + live, `ALTER TABLE ` + rebuilt[i] + ` RENAME TO ` + live} {
						if _, err := db.ExecContext(ctx, q); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
		}
	})
}

// tableShape describes a table without its name: its columns (name, type,
// nullability, key position) and its indexes' definitions after the table
// name.
func tableShape(tb testing.TB, db *sqlx.DB, table string) []string {
	tb.Helper()
	var cols, indexes []string
	var err error
	if db.DriverName() == "postgres" {
		err = db.Select(&cols, `SELECT column_name || ' ' || data_type || ' ' || is_nullable || ' ' || COALESCE(collation_name, '')
			FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, table)
		if err == nil {
			err = db.Select(&indexes, `SELECT CASE WHEN indisprimary THEN 'primary ' ELSE '' END || pg_get_indexdef(indexrelid)
				FROM pg_index WHERE indrelid = $1::regclass`, table)
		}
	} else {
		err = db.Select(&cols, `SELECT name || ' ' || type || ' ' || "notnull" || ' ' || pk FROM pragma_table_info(?) ORDER BY cid`, table)
		if err == nil {
			err = db.Select(&indexes, `SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`, table)
		}
	}
	if err != nil {
		tb.Fatal(err)
	}
	for i, def := range indexes {
		// "CREATE INDEX name ON table USING btree (cols) ...": keep what follows the table.
		_, on, _ := strings.Cut(def, " ON ")
		_, after, _ := strings.Cut(on, " ")
		indexes[i] = fmt.Sprintf("%t %s", strings.HasPrefix(def, "primary"), strings.Join(strings.Fields(after), " "))
	}
	slices.Sort(indexes)
	return append(cols, indexes...)
}
