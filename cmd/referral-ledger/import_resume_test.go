package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/referral-ledger/referral-ledger/domain"
)

// resumeEvents is the size of the file TestImportResumesAfterSIGKILL
// imports: large enough that the import is still running when the test
// sees its first batches land.
const resumeEvents = 30000

// resumeStreams is how many streams its events are spread over.
const resumeStreams = 97

// largeExport writes resumeEvents events into a fresh SQLite store through
// its Import (runs of ten events per stream, over many streams, with and
// without metadata), exports them with events export and returns the
// file's path and its lines without positions.
func largeExport(t *testing.T) (string, []string) {
	t.Helper()
	src := storeProfiles["sqlite"](t)
	m := openArgs(t, src)
	at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	version := map[string]domain.Revision{}
	var batch []domain.RecordedEvent
	for i := range resumeEvents {
		stream := fmt.Sprintf("resume-%03d", i/10%resumeStreams)
		version[stream]++
		e := domain.RecordedEvent{Stream: stream, Version: version[stream], ID: domain.NewID(), Type: "ResumeTestEvent",
			Data: fmt.Appendf(nil, `{"n": %d, "padding": %q}`, i, strings.Repeat("x", i%50)), RecordedAt: at.Add(time.Duration(i) * time.Millisecond)}
		if i%2 == 0 {
			e.Metadata = fmt.Appendf(nil, `{"source":"resume-test","i":%d}`, i)
		}
		if batch = append(batch, e); len(batch) == importBatch {
			if err := m.store.(importer).Import(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		if err := m.store.(importer).Import(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	export := mustRun(t, src, "events", "export")
	file := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(file, []byte(export), 0o600); err != nil {
		t.Fatal(err)
	}
	want := withoutPositions(t, export)
	if len(want) != resumeEvents {
		t.Fatalf("exported %d events, want %d", len(want), resumeEvents)
	}
	return file, want
}

// logCounter counts the events of a store's global log a page at a time,
// so that the test, polling while the import writes, stops as soon as it
// has seen enough rather than chasing the writer to the end.
type logCounter struct {
	n     int
	after domain.Position
}

// page reads the next page of the log and returns how many events it had.
func (c *logCounter) page(ctx context.Context, store domain.EventStore) (int, error) {
	evs, err := store.ReadAll(ctx, domain.ReadAllOptions{After: c.after, Limit: importBatch})
	if err != nil || len(evs) == 0 {
		return 0, err
	}
	c.n += len(evs)
	c.after = evs[len(evs)-1].Position
	return len(evs), nil
}

// TestImportResumesAfterSIGKILL: events import, run as its own process, is
// killed with SIGKILL part way through a large file; the same command run
// again continues where the store stopped, says how many events were
// already there, and the target's export then equals the source's but for
// positions (docs/decisions.md, "Moving a log between profiles").
func TestImportResumesAfterSIGKILL(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	file, want := largeExport(t)
	for _, name := range []string{"sqlite", "postgres", "eventstoredb"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dst := storeProfiles[name](t)
			m := openArgs(t, dst) // migrated before the import starts; the test reads the target through it
			defer m.Close()
			args := append([]string{"events", "import", file}, dst...)
			held := killMidway(t, bin, args, m.store)
			if held == 0 || held >= len(want) {
				t.Fatalf("the killed import left %d of %d events: not part way", held, len(want))
			}
			t.Logf("killed with %d of %d events in the store", held, len(want))
			out, err := exec.Command(bin, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("rerun: %v\n%s", err, out)
			}
			if wantOut := fmt.Sprintf("imported %d events (%d were already there)", len(want)-held, held); !strings.Contains(string(out), wantOut) {
				t.Errorf("rerun said %q, want %q", out, wantOut)
			}
			var got []string
			for range 100 { // PostgreSQL may show the last batch a moment late
				if got = withoutPositions(t, mustRun(t, dst, "events", "export")); len(got) >= len(want) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("export after the resumed import (%d lines) differs from the source's (%d lines):\n%s",
					len(got), len(want), cmp.Diff(got, want))
			}
		})
	}
}

// killMidway starts bin with args, kills it with SIGKILL once the store
// holds two batches of its events, and returns how many events the store
// holds once the process is dead.
func killMidway(t *testing.T, bin string, args []string, store domain.EventStore) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var log logCounter
	for log.n < 2*importBatch {
		read, err := log.page(ctx, store)
		if err != nil {
			t.Fatalf("reading the target: %v", err)
		}
		if read > 0 {
			continue
		}
		select {
		case err := <-exited:
			t.Fatalf("the import ended (%v) before the test could kill it, with %d events in the store; make the file larger\n%s", err, log.n, out.String())
		case <-time.After(2 * time.Millisecond):
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatalf("kill: %v (the import ended before the test could kill it; make the file larger)\n%s", err, out.String())
	}
	var exit *exec.ExitError
	if err := <-exited; !errors.As(err, &exit) || exit.ExitCode() != -1 {
		t.Fatalf("the import was not killed: %v\n%s", err, out.String())
	}
	// Count by stream: the global log may show PostgreSQL's last committed
	// batch a moment late, a stream's last event never does.
	held := 0
	for i := range resumeStreams {
		last, err := store.ReadLast(ctx, fmt.Sprintf("resume-%03d", i))
		if errors.Is(err, domain.ErrStreamNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("reading the target: %v", err)
		}
		held += int(last.Version)
	}
	return held
}
