package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
)

// prepareDataDir creates the embedded profile's data directory, owner only:
// it holds the log, the API keys' hashes and the webhook sealing key. A
// directory that already exists keeps its mode (it may be one the operator
// made on purpose), with a warning when others may enter it.
func prepareDataDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the data directory is open to other users; the files in it are 0600, but restrict it too",
			"dir", dir, "mode", fmt.Sprintf("%#o", fi.Mode().Perm()), "fix", "chmod 700 "+dir)
	}
	return nil
}

// checkKeyFile refuses a key file that users other than its owner may read
// or write: whoever reads it can do what the key guards (reach: "unseals
// every webhook secret"). what names the key in errors. A missing file is
// fine (it is then created 0600).
func checkKeyFile(path, what, reach string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s file %s has mode %#o: other users may read it, and it %s; "+
			"restrict it with: chmod 600 %s", what, path, perm, reach, path)
	}
	return nil
}
