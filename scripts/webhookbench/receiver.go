package main

import (
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
