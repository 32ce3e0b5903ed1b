package main

import (
	"fmt"
	"io"
	"time"
)

// meter shows a long command's progress (rebuild, export, audit verify)
// on one line of stderr, rewritten at most twice a second, when stderr is
// a terminal; logs and pipes get nothing from it.
type meter struct {
	w     io.Writer
	on    bool
	last  time.Time
	shown bool
}

func newMeter(w io.Writer) *meter { return &meter{w: w, on: isTerminal(w)} }

// show rewrites the line; the first call shows at once.
func (m *meter) show(format string, args ...any) {
	if !m.on || time.Since(m.last) < 500*time.Millisecond {
		return
	}
	m.last, m.shown = time.Now(), true
	fmt.Fprintf(m.w, "\r\033[K"+format, args...)
}

// done ends the line, so what the command prints next starts on its own.
func (m *meter) done() {
	if m.shown {
		fmt.Fprintln(m.w)
		m.shown = false
	}
}
