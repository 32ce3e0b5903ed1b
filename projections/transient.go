package projections

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
)

// Transient reports whether err is worth retrying as it is: the
// connection, the server or a lock failed, not the event. The runner
// retries a batch that failed so, whole and with a backoff, and never
// quarantines one of its events; any other failure to apply a batch is
// the batch's own, and the runner isolates the event that causes it.
//
// Drivers are recognised by the methods their errors have, not by type, so
// that this package does not import them: PostgreSQL errors have
// SQLState() (lib/pq, pgx), SQLite errors (modernc.org/sqlite) Code().
func Transient(err error) bool {
	if err == nil {
		return false
	}
	for _, target := range []error{context.Canceled, context.DeadlineExceeded, driver.ErrBadConn,
		sql.ErrConnDone, sql.ErrTxDone, io.EOF, io.ErrUnexpectedEOF, net.ErrClosed} {
		if errors.Is(err, target) {
			return true
		}
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.As(err, new(retryable)) {
		return true
	}
	var pgErr interface{ SQLState() string }
	if errors.As(err, &pgErr) {
		return transientSQLState(pgErr.SQLState())
	}
	var liteErr interface{ Code() int }
	if errors.As(err, &liteErr) {
		// SQLITE_BUSY (5) and SQLITE_LOCKED (6), and their extended codes.
		switch liteErr.Code() & 0xff {
		case 5, 6:
			return true
		}
	}
	return false
}

// transientSQLState reports whether a PostgreSQL error code says the
// server, the connection or the transaction's luck failed: connection
// exceptions (class 08), insufficient resources (53), operator
// intervention (57014 query cancelled, a statement timeout; 57P01 admin
// shutdown, 57P02 crash shutdown, 57P03 cannot connect now), serialization
// failures and deadlocks (40001, 40P01), and a lock not available (55P03).
func transientSQLState(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"):
		return true
	}
	switch code {
	case "40001", "40P01", "57014", "57P01", "57P02", "57P03", "55P03":
		return true
	}
	return false
}

// Retryable marks err as transient (see Transient): a handler wraps with it
// a failure that is not the event's, such as a read of another store.
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	return retryable{err}
}

type retryable struct{ error }

func (e retryable) Unwrap() error { return e.error }
