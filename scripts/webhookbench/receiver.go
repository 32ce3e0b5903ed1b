package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// receiver counts requests and notes when each referral code arrived.
type receiver struct {
	url     string
	count   atomic.Int64
	mu      sync.Mutex
	arrived map[string]time.Time
}

// startReceiver starts a receiver that answers after delay.
func startReceiver(delay time.Duration) *receiver {
	r := &receiver{arrived: map[string]time.Time{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	r.url = "http://" + ln.Addr().String() + "/hooks"
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { //nolint:errcheck // runs until exit
		body, _ := io.ReadAll(req.Body)
		time.Sleep(delay)
		if req.Header.Get("X-Webhook-Event") == "referral.created" {
			var b struct {
				Data struct {
					Code string `json:"referral_code"`
				} `json:"data"`
			}
			if json.Unmarshal(body, &b) == nil {
				r.mu.Lock()
				r.arrived[b.Data.Code] = time.Now()
				r.mu.Unlock()
			}
		}
		r.count.Add(1)
	}))
	return r
}

// rawRate is the receiver's rate under a plain loop of POSTs with a body
// like a delivery's.
func (r *receiver) rawRate(concurrency int, d time.Duration) float64 {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}}
	body := []byte(`{"id":"0193a0b4-7c1e-7000-8000-000000000000","event":"referral.created","timestamp":"2026-11-27T00:00:00.000Z","data":{"referral_code":"ABCDEFGHIJ","referrer_id":"user-1","referral_url":null}}`)
	var n atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				resp, err := client.Post(r.url, "application/json", bytes.NewReader(body))
				if err != nil {
					log.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}
