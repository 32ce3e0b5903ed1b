package main

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/webhooks"
	"github.com/referral-ledger/referral-ledger/domain"
)

// signedRate is the baseline: n requests like deliveries (a created
// event's body, signed with the headers a delivery carries) POSTed
// straight to the receiver by concurrency senders, in requests per second.
func (r *receiver) signedRate(n, concurrency int) float64 {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}}
	secrets := []string{webhooks.SecretPrefix + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				id := domain.NewID()
				body := []byte(`{"id":"` + id + `","event":"referral.created","timestamp":"2026-11-27T00:00:00.000Z",` +
					`"data":{"referral_code":"B` + strconv.FormatInt(i, 10) + `","referrer_id":"user-1","referral_url":null}}`)
				req, err := http.NewRequest(http.MethodPost, r.url, bytes.NewReader(body))
				if err != nil {
					log.Fatal(err)
				}
				if err := webhooks.Sign(req.Header, secrets, "referral.created", id, time.Now(), body, "bench"); err != nil {
					log.Fatal(err)
				}
				resp, err := client.Do(req)
				if err != nil {
					log.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	client.CloseIdleConnections()
	return float64(n) / time.Since(start).Seconds()
}

// peakRSS is this process's peak resident set (VmHWM), in MiB; 0 where
// /proc is missing.
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// verdict marks a figure against its target.
func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

// ms is a duration in milliseconds, for the tables.
func ms(d time.Duration) string { return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond)) }
