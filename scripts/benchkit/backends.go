package benchkit

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"
)

// appName is the application_name of this process's connections to the
// PostgreSQL stores ForEachStore opens: Postgres finds their backends by it.
var appName = "ledger-bench-" + strconv.Itoa(os.Getpid())

// withAppName returns the PostgreSQL URL u with appName as its
// application_name.
func withAppName(u string) (string, error) {
	p, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	q := p.Query()
	q.Set("application_name", appName)
	p.RawQuery = q.Encode()
	return p.String(), nil
}

// backends counts the CPU time of the server backends serving appName,
// while a store is open (db set).
var backends backendCPU

type backendCPU struct {
	mu   sync.Mutex
	db   *sql.DB
	seen map[int]time.Duration // backend PID -> CPU time when last seen
}

// watch starts counting through db (a pool of the store's server); nil
// stops.
func (b *backendCPU) watch(db *sql.DB) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.db, b.seen = db, map[int]time.Duration{}
}

// cpu returns the CPU time of every backend of appName seen so far, and
// false when no store is watched or the server cannot say.
func (b *backendCPU) cpu() (time.Duration, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.db == nil {
		return 0, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := b.db.QueryContext(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, appName)
	if err != nil {
		return 0, false
	}
	defer rows.Close()
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			return 0, false
		}
		b.seen[pid] = max(b.seen[pid], procCPU(fmt.Sprintf("/proc/%d", pid)))
	}
	if rows.Err() != nil {
		return 0, false
	}
	var total time.Duration
	for _, t := range b.seen {
		total += t
	}
	return total, true
}
