package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// TestProgressOnlyOnTerminal runs the long commands (events export,
// projections rebuild, audit verify online and offline) with stderr a
// terminal, where each shows a progress line, and a file, where stderr
// stays empty.
func TestProgressOnlyOnTerminal(t *testing.T) {
	s := startAudited(t, "sqlite") // 8 events, all in its checkpoint
	// A data directory open to others makes every command warn on stderr.
	if err := os.Chmod(s.m.cfg.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cp := filepath.Join(dir, "checkpoint")
	if err := os.WriteFile(cp, []byte(s.get(t, "/v1/api/audit/checkpoint")), 0o600); err != nil {
		t.Fatal(err)
	}
	store := []string{"--data-dir", s.m.cfg.DataDir}
	export := filepath.Join(dir, "events.jsonl")
	if err := os.WriteFile(export, []byte(mustRun(t, store, "events", "export")), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LEDGER_API_KEY", s.key)
	commands := []struct {
		name string
		args []string
		want string
	}{
		{"export", append([]string{"events", "export"}, store...), "exporting: 8 events"},
		{"rebuild", append([]string{"projections", "rebuild"}, store...), "rebuilding referrals:"},
		{"verify offline", []string{"audit", "verify", "--export", export, "--checkpoint", cp, "--verifier-key", s.verifier}, "checking leaves: 8/8 events"},
		{"verify online", []string{"audit", "verify", "--url", s.url, "--appspace", "shop", "--verifier-key", s.verifier}, "checking leaves: 8/"},
	}
	for _, c := range commands {
		t.Run(c.name+" on a terminal", func(t *testing.T) {
			master, tty := openPTY(t)
			err := run(context.Background(), c.args, io.Discard, tty)
			tty.Close()
			got := readAll(master)
			if err != nil {
				t.Fatalf("%v: %v (stderr %q)", c.args, err, got)
			}
			if !strings.Contains(got, c.want) || !strings.HasSuffix(got, "\r\n") {
				t.Errorf("stderr on a terminal %q, want a progress line with %q, ended", got, c.want)
			}
		})
		t.Run(c.name+" to a file", func(t *testing.T) {
			f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := run(context.Background(), c.args, io.Discard, f); err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(f.Name()); len(got) != 0 {
				t.Errorf("stderr to a file %q, want nothing", got)
			}
		})
	}
}

// openPTY opens a pseudo-terminal: the master end, to read, and the
// terminal end, to write as stderr.
func openPTY(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	var unlock int32
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatal(e)
	}
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatal(e)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return master, tty
}

// readAll reads what was written to the terminal, until its end closed.
func readAll(master *os.File) string {
	var b bytes.Buffer
	buf := make([]byte, 4096)
	for {
		n, err := master.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}
