package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// fileMode is the mode of the database and its -wal and -shm files: the
// log holds every appspace's data and the API keys' hashes, so only the
// owner may read it.
const fileMode = 0o600

// makePrivate creates path with fileMode if it is missing, and tightens it
// and its -wal and -shm files if an older version left them readable by
// others. SQLite creates the -wal and -shm files with the database file's
// mode, so a private database file keeps them private too.
func makePrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return fmt.Errorf("sqlite: create %s: %w", path, err)
	}
	err = f.Chmod(fileMode)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sqlite: make %s private: %w", path, err)
	}
	for _, name := range []string{path + "-wal", path + "-shm"} {
		if err := os.Chmod(name, fileMode); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("sqlite: make %s private: %w", name, err)
		}
	}
	return nil
}
