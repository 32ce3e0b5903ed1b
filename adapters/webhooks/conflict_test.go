package webhooks_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/lib/pq"

	"github.com/referral-ledger/referral-ledger/adapters/webhooks"
)

// TestConflictIsNotAnError: two replicas' subscribers locking the offsets
// row at once fail one read with a serialization failure or a deadlock,
// which the dispatcher retries and logs as information; anything else is
// an error.
func TestConflictIsNotAnError(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("could not query message: %w", &pq.Error{Code: "40001"}), true},
		{&pq.Error{Code: "40P01"}, true},
		{fmt.Errorf("could not query message: %w", &pq.Error{Code: "23505"}), false},
		{&pq.Error{Code: "08006"}, false},
		{errors.New("could not serialize access (40001)"), false}, // not the server's code
	} {
		if got := webhooks.Conflict(c.err); got != c.want {
			t.Errorf("conflict(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
