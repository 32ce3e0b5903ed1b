package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// httpPair is commandPair over HTTP.
func httpPair(client *http.Client, base, key, tag string, w, i int) error {
	referrer := fmt.Sprintf("http-%s-%d-%d-%d", tag, runID, w, i/2)
	if i%2 == 0 {
		var out struct {
			ReferralCode string `json:"referral_code"`
		}
		if err := post(client, base+"/v1/api/referral/create", key, fmt.Sprintf(`{"user_id":%q}`, referrer), &out); err != nil {
			return err
		}
		lastCode.Store(fmt.Sprint("http", tag, w), out.ReferralCode)
		return nil
	}
	code, _ := lastCode.Load(fmt.Sprint("http", tag, w))
	body := fmt.Sprintf(`{"referral_code":%q,"milestone":"signed_up","referred_user_id":%q}`, code, "friend-of-"+referrer)
	return post(client, base+"/v1/api/referral/milestone", key, body, nil)
}

// httpFloor is a call that takes the whole HTTP path (client, server,
// authentication, rate limit, body decoding, error rendering) and no
// store: a milestone without a referral code, refused with 400 before the
// command reads anything. Its CPU per call is what HTTP alone costs.
func httpFloor(client *http.Client, base, key string) error {
	return postWant(client, base+"/v1/api/referral/milestone", key,
		`{"referral_code":"","milestone":"signed_up","referred_user_id":"nobody"}`, http.StatusBadRequest, nil)
}

func post(client *http.Client, u, key, body string, out any) error {
	return postWant(client, u, key, body, http.StatusOK, out)
}

func postWant(client *http.Client, u, key, body string, want int, out any) error {
	req, err := http.NewRequest("POST", u, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", key)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	buf := buffers.Get().(*bytes.Buffer)
	defer buffers.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("POST %s: %d %s", u, resp.StatusCode, buf.Bytes())
	}
	if out != nil {
		return json.Unmarshal(buf.Bytes(), out)
	}
	return nil
}

// buffers hold response bodies, reused as a client under load would.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}
