package benchkit

import (
	"log"
	"sync"
	"sync/atomic"
	"time"
)

// Measure runs op from conc workers for d and returns calls per second
// (and the calls made). A failed call ends the benchmark.
func Measure(conc int, d time.Duration, op func(worker, i int) error) (perSecond float64, calls int64) {
	var done atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	start := time.Now()
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				if err := op(w, i); err != nil {
					log.Fatal(err)
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(done.Load()) / time.Since(start).Seconds(), done.Load()
}
