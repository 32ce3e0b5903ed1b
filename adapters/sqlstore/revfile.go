package sqlstore

import (
	"fmt"
	"os"
	"time"
)

// A revocation file tells a SQLite serve that another process (the CLI)
// revoked a key, where PostgreSQL would send a notification: RevokeKey
// appends one byte to it after its commit, and a cache that watches it
// stats it on every lookup (a system call, not a query) and forgets every
// key when it changed. The file only grows, so its size counts the
// revocations; its modification time catches a file deleted and grown
// back to the same size.
type revocationFile struct {
	path  string
	stamp fileStamp // as seen by the last lookup
}

type fileStamp struct {
	size  int64
	mtime time.Time
}

func (f *revocationFile) read() fileStamp {
	fi, err := os.Stat(f.path)
	if err != nil {
		// Missing: no revocation announced yet. Another error: an
		// impossible stamp, so that nothing is served from memory.
		if os.IsNotExist(err) {
			return fileStamp{}
		}
		return fileStamp{size: -1, mtime: time.Now()}
	}
	return fileStamp{size: fi.Size(), mtime: fi.ModTime()}
}

// announce appends the byte that tells watching processes to forget their
// keys.
func (f *revocationFile) announce() error {
	fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("announce the revocation: %w", err)
	}
	_, err = fh.Write([]byte{'\n'})
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("announce the revocation: %w", err)
	}
	return nil
}
