package domain

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Stream names. Every stream of an appspace starts with its ID and a colon,
// so StreamPrefix(appspaceID) selects an appspace's part of the global log.
// Appspace IDs never contain a colon.

// StreamPrefix is the prefix of every stream of an appspace.
func StreamPrefix(appspaceID string) string { return appspaceID + ":" }

// ReferralStream names the stream of one referral code.
func ReferralStream(appspaceID, code string) string {
	return appspaceID + ":referral:" + code
}

// ReferrerStream names the per-referrer stream.
func ReferrerStream(appspaceID, referrerID string) string {
	return appspaceID + ":referrer:" + referrerID
}

// RefereeStream names the per-referred-user guard stream.
func RefereeStream(appspaceID, userID string) string {
	return appspaceID + ":referee:" + userID
}

// SettingsStream names an appspace's settings stream.
func SettingsStream(appspaceID string) string { return appspaceID + ":settings" }

// ParseStream splits a stream name into appspace ID, category and key.
func ParseStream(stream string) (appspaceID, category, key string) {
	appspaceID, rest, _ := strings.Cut(stream, ":")
	category, key, _ = strings.Cut(rest, ":")
	return appspaceID, category, key
}

const codeAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// CodeLength is the length of a referral code.
const CodeLength = 10

// NewReferralCode returns a random code of CodeLength characters A-Z0-9.
func NewReferralCode() string {
	var b [CodeLength]byte
	buf := make([]byte, 1)
	for i := 0; i < len(b); {
		rand.Read(buf)     // crypto/rand.Read never fails (Go 1.24+)
		if buf[0] >= 252 { // 252 = 7*36: reject to keep the draw uniform
			continue
		}
		b[i] = codeAlphabet[int(buf[0])%len(codeAlphabet)]
		i++
	}
	return string(b[:])
}

// NewID returns a new UUID (version 7: a millisecond timestamp, then
// random bits). Time-ordered IDs keep the stores' unique index on event IDs
// append-mostly, instead of touching a random page per insert.
func NewID() string {
	var u [16]byte
	rand.Read(u[6:])
	ms := uint64(time.Now().UnixMilli())
	for i := 0; i < 6; i++ {
		u[i] = byte(ms >> (40 - 8*i))
	}
	u[6] = u[6]&0x0f | 0x70
	u[8] = u[8]&0x3f | 0x80
	return formatUUID(u)
}

// DerivedID returns a UUID determined by parent and label, so an event
// appended again after a crash carries the same ID and is recognised as a
// retry by the store.
func DerivedID(parent, label string) string {
	sum := sha256.Sum256([]byte(parent + "\x00" + label))
	var u [16]byte
	copy(u[:], sum[:16])
	u[6] = u[6]&0x0f | 0x80 // version 8: custom
	u[8] = u[8]&0x3f | 0x80
	return formatUUID(u)
}

func formatUUID(u [16]byte) string {
	h := hex.EncodeToString(u[:])
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
}

// NewPrefixedID returns prefix + "_" + 20 random lowercase base32 characters;
// used for appspace and key IDs.
func NewPrefixedID(prefix string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	var b [20]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[b[i]&31]
	}
	return prefix + "_" + string(b[:])
}
