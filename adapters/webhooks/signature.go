package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts every webhook signing secret, as in the seed and the
// Standard Webhooks specification.
const SecretPrefix = "whsec_"

// NewSecret returns a new signing secret: SecretPrefix followed by the
// standard base64 encoding of 32 random bytes.
func NewSecret() (string, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("new webhook secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(key), nil
}

// SignHex returns the X-Webhook-Signature value: the hex HMAC-SHA256 of the
// raw body keyed with the whole secret string, prefix included. That is what
// the seed's Express receiver computes with
// crypto.createHmac('sha256', secret).update(body).digest('hex').
func SignHex(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// SignStandard returns the Standard Webhooks webhook-signature value: for
// each secret "v1," + base64(HMAC-SHA256(key, id + "." + unix seconds + "." +
// body)), where key is the base64-decoded part after SecretPrefix. Several
// secrets (a rotation's grace period) give space-separated signatures, in
// the order given.
func SignStandard(secrets []string, id string, ts time.Time, body []byte) (string, error) {
	if len(secrets) == 0 {
		return "", errors.New("sign webhook: no secret")
	}
	signed := make([]byte, 0, len(id)+len(body)+22)
	signed = append(signed, id...)
	signed = append(signed, '.')
	signed = strconv.AppendInt(signed, ts.Unix(), 10)
	signed = append(signed, '.')
	signed = append(signed, body...)

	sigs := make([]string, len(secrets))
	for i, secret := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
		if err != nil || len(key) == 0 {
			// The secret itself must not end up in an error message or a log.
			return "", fmt.Errorf("sign webhook: secret %d is not %s followed by base64", i, SecretPrefix)
		}
		mac := hmac.New(sha256.New, key)
		mac.Write(signed)
		sigs[i] = "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	}
	return strings.Join(sigs, " "), nil
}

// Sign sets every header of one delivery attempt on h: Content-Type,
// X-Webhook-Event, X-Webhook-Signature (hex, keyed with secrets[0], the
// current secret), webhook-id, webhook-timestamp, webhook-signature (one
// signature per secret) and User-Agent "ReferralLedger/" + version. id is
// the event id, stable across retries; ts is this attempt's time.
func Sign(h http.Header, secrets []string, eventType, id string, ts time.Time, body []byte, version string) error {
	standard, err := SignStandard(secrets, id, ts, body)
	if err != nil {
		return err
	}
	h.Set("Content-Type", "application/json")
	h.Set("X-Webhook-Event", eventType)
	h.Set("X-Webhook-Signature", SignHex(secrets[0], body))
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	h.Set("webhook-signature", standard)
	h.Set("User-Agent", "ReferralLedger/"+version)
	return nil
}
