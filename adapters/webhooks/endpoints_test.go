package webhooks

import (
	"testing"
	"time"
)

// TestEndpointsKeepTheCapOfHeldDeliveries: an endpoint whose requests all
// finished while a claim ran is forgotten; the deliveries that claim then
// holds must still start, under the cap (a forgotten cap of 0 left them
// waiting until their leases ended).
func TestEndpointsKeepTheCapOfHeldDeliveries(t *testing.T) {
	e := newEndpoints()
	now := time.Now()
	if n, _ := e.slots("a", 2, 0, true, now); n != 2*aheadFactor {
		t.Fatalf("a healthy endpoint with max_in_flight 2 may hold %d, want %d", n, 2*aheadFactor)
	}
	e.hold("a", 2, 1)
	if got := e.begin("a", 0, 32); got != beginNow {
		t.Fatalf("begin = %d, want beginNow", got)
	}
	e.done("a", false) // the last request finished: "a" is forgotten
	e.hold("a", 2, 3)  // what the claim took meanwhile
	for i := range 2 {
		if got := e.begin("a", 0, 32); got != beginNow {
			t.Fatalf("held delivery %d: begin = %d, want beginNow", i, got)
		}
	}
	if got := e.begin("a", 0, 32); got != beginWait {
		t.Fatalf("third request with max_in_flight 2: begin = %d, want beginWait", got)
	}
	if n, _ := e.slots("a", 2, 0, true, now); n != 2*aheadFactor-3 {
		t.Errorf("holding 3 of %d: %d more may be claimed, want %d", 2*aheadFactor, n, 2*aheadFactor-3)
	}
}

// TestEndpointsDropAfterAFailure: once an attempt to an endpoint fails,
// its held deliveries are let go and it is not claimed ahead until the
// failure is recorded; the sender limit holds across endpoints.
func TestEndpointsDropAfterAFailure(t *testing.T) {
	e := newEndpoints()
	now := time.Now()
	e.slots("a", 4, 0, true, now)
	e.hold("a", 4, 3)
	if e.begin("a", 0, 32) != beginNow {
		t.Fatal("the first held delivery did not start")
	}
	e.fail("a")
	if got := e.begin("a", 0, 32); got != beginDrop {
		t.Fatalf("after a failure: begin = %d, want beginDrop", got)
	}
	e.drop("a")
	e.drop("a")
	if n, _ := e.slots("a", 4, 0, true, now); n != 0 {
		t.Errorf("an endpoint with an unrecorded failure may be claimed %d more, want 0", n)
	}
	e.done("a", true)
	// Claimed before that failure, held after it was recorded: its
	// claim did not see the breaker the failure may have opened.
	e.hold("a", 4, 1)
	if got := e.begin("a", 0, 32); got != beginDrop {
		t.Errorf("a delivery whose claim began before a failure: begin = %d, want beginDrop", got)
	}
	e.drop("a")
	e.hold("a", 4, 1)
	if got := e.begin("a", e.epoch("a"), 32); got != beginNow {
		t.Errorf("a delivery claimed after the failure was recorded: begin = %d, want beginNow", got)
	}
	e.done("a", false)
	if e.busy() != 0 {
		t.Errorf("busy %d after every delivery ended, want 0", e.busy())
	}
	e.hold("b", 4, 2)
	e.hold("c", 4, 1)
	e.begin("b", 0, 2)
	e.begin("b", 0, 2)
	if got := e.begin("c", 0, 2); got != beginFull {
		t.Errorf("with both senders busy: begin = %d, want beginFull", got)
	}
	if n, _ := e.slots("r", 4, 10, true, now); n > 4 {
		t.Errorf("a rate-limited endpoint may hold %d, more than its cap", n)
	}
}
