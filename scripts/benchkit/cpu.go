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

// Postgres returns the CPU time used so far by the PostgreSQL server for
// this process (zero where /proc is missing), so a run can show where a
// command's cost goes. It counts the server backends of this process's
// connections to the stores ForEachStore opens (they carry this process's
// application_name), so other clients of a shared server are not counted;
// a backend that has exited keeps the time it was last seen with. Outside
// ForEachStore it counts every postgres process of the machine.
// LEDGER_BENCH_PG_COMM, if set, names the processes to count instead: a
// private server started from a link of that name is counted whole
// (background writers included).
func Postgres() time.Duration {
	if c := os.Getenv("LEDGER_BENCH_PG_COMM"); c != "" {
		return processes(c)
	}
	if t, ok := backends.cpu(); ok {
		return t
	}
	return processes("postgres")
}

// processes returns the CPU time of the machine's processes named comm
// (or, for "postgres", whose names start with it).
func processes(comm string) time.Duration {
	var total time.Duration
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		name, err := os.ReadFile(filepath.Join(d, "comm"))
		if err != nil || strings.TrimSpace(string(name)) != comm && !(comm == "postgres" && strings.HasPrefix(string(name), comm)) {
			continue
		}
		total += procCPU(d)
	}
	return total
}

// procCPU returns the CPU time of the process whose /proc directory is dir.
func procCPU(dir string) time.Duration {
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return 0
	}
	// Fields after "(comm) ": utime and stime are the 12th and 13th.
	f := strings.Fields(string(stat)[strings.LastIndexByte(string(stat), ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * clockTick
}

// Self returns the CPU time this process has used.
func Self() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru) // cannot fail for RUSAGE_SELF
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
