// Package benchkit is what the benchmark programs share: scratch stores of
// both kinds, CPU profiles, and CPU time accounting of this process and of
// the local PostgreSQL server, so a run can show where a command's
// cost goes.
package benchkit

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is the unit of /proc/PID/stat times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// Postgres returns the CPU time used so far by this machine's postgres
// processes (zero where /proc is missing), so a run can show where a
// command's cost goes. LEDGER_BENCH_PG_COMM, if set, names the processes
// to count instead: a private server started from a link of that name has
// its CPU time counted apart from other servers on a shared machine.
func Postgres() time.Duration {
	comm := "postgres"
	if c := os.Getenv("LEDGER_BENCH_PG_COMM"); c != "" {
		comm = c
	}
	var total time.Duration
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		name, err := os.ReadFile(filepath.Join(d, "comm"))
		if err != nil || strings.TrimSpace(string(name)) != comm && !(comm == "postgres" && strings.HasPrefix(string(name), comm)) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		// Fields after "(comm) ": utime and stime are the 12th and 13th.
		f := strings.Fields(string(stat)[strings.LastIndexByte(string(stat), ')')+2:])
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(u+s) * clockTick
	}
	return total
}

// Self returns the CPU time this process has used.
func Self() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru) // cannot fail for RUSAGE_SELF
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
