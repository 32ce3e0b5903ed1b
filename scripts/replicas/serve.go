package main

import (
	"bytes"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Keys for serve on PostgreSQL, for scratch databases only: the webhook
// sealing key and a checkpoint signing key (the tests' own).
const (
	secretKey  = "LEDGER_WEBHOOK_SECRET_KEY=dGVzdC1vbmx5LXdlYmhvb2stc2VjcmV0LWtleS0zMmI="
	signingKey = "LEDGER_CHECKPOINT_SIGNING_KEY=PRIVATE+KEY+referral-ledger-test+3945e343+AWHLT+3fFNziNdpSYjFFPyVqv6xWgaa7ogiFzXA4s39x"
)

// build compiles the binary into a temporary directory.
func build() (string, func()) {
	dir, err := os.MkdirTemp("", "ledger-replicas-")
	if err != nil {
		log.Fatal(err)
	}
	bin := filepath.Join(dir, "referral-ledger")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/referral-ledger")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		log.Fatalf("go build (run from the repository root): %v", err)
	}
	return bin, func() { os.RemoveAll(dir) }
}

// serve is one replica's process.
type serve struct {
	name string
	base string
	cmd  *exec.Cmd
	out  *lockedBuffer
	once sync.Once
}

type lockedBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

// startServe starts serve on a free loopback port and waits for /readyz.
func startServe(bin, url, name string) *serve {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	out := &lockedBuffer{}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "LEDGER_DATABASE_URL="+url, "LEDGER_ADDR="+addr, secretKey, signingKey,
		"LEDGER_WEBHOOK_ALLOW_PRIVATE=true", "LEDGER_RATE_LIMIT=0", "LEDGER_CONSOLE=false")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	s := &serve{name: name, base: "http://" + addr, cmd: cmd, out: out}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			log.Fatalf("replica %s not ready after 60 s:\n%s", name, out.String())
		}
	}
}

// stop ends the replica with SIGTERM (a drain), then SIGKILL after 20 s.
func (s *serve) stop() {
	s.once.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = s.cmd.Process.Kill()
			<-done
		}
	})
}

// errorLines counts the replica's log lines at level ERROR, and apart
// from them the serialization failures and deadlocks (40001, 40P01) the
// failing component retried, at any level; it prints the first few of
// each kind.
func (s *serve) errorLines() (other, retried int) {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	for _, line := range bytes.Split(s.out.Bytes(), []byte("\n")) {
		var kind *int
		switch {
		case bytes.Contains(line, []byte("(40001)")) || bytes.Contains(line, []byte("(40P01)")):
			kind = &retried
		case bytes.Contains(line, []byte("level=ERROR")):
			kind = &other
		default:
			continue
		}
		*kind++
		if *kind <= 3 {
			fmt.Printf("  %s: %s\n", s.name, line)
		}
	}
	return other, retried
}
