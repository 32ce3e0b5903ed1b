package main

import (
	"os"
	"testing"

	"github.com/referral-ledger/referral-ledger/adapters/eventstoredb/esdbtest"
	"github.com/referral-ledger/referral-ledger/adapters/postgres/pgtest"
	"github.com/referral-ledger/referral-ledger/domain"
)

func originFor(appspaceID string) domain.Origin {
	return domain.Origin{AppspaceID: appspaceID, RequestID: domain.NewID()}
}

func createInput(user string) domain.CreateInput { return domain.CreateInput{ReferrerID: user} }

// testSecretKeyEnv gives serve on PostgreSQL the webhook sealing key it
// requires; a fixed key, for tests only.
const testSecretKeyEnv = "LEDGER_WEBHOOK_SECRET_KEY=dGVzdC1vbmx5LXdlYmhvb2stc2VjcmV0LWtleS0zMmI="

// testSigningKey is the checkpoint signing key of serve on PostgreSQL in
// tests (a note signer key made for tests only), and testVerifierKey its
// verifier key.
const (
	testSigningKey    = "PRIVATE+KEY+referral-ledger-test+3945e343+AWHLT+3fFNziNdpSYjFFPyVqv6xWgaa7ogiFzXA4s39x"
	testVerifierKey   = "referral-ledger-test+3945e343+AQLWr6kltWusNefCeW8PucU/IvMi/kIha2f1R9oU1Jw6"
	testSigningKeyEnv = "LEDGER_CHECKPOINT_SIGNING_KEY=" + testSigningKey
)

// serveProfiles are the environments that run serve on a fresh embedded
// store, on a fresh PostgreSQL schema, and on EventStoreDB beside a fresh
// schema: the server LEDGER_TEST_EVENTSTORE_URL names, or an emulated one
// in the test process on 127.0.0.1, which outlives a killed serve.
var serveProfiles = []struct {
	name string
	env  func(testing.TB) []string
}{
	{"sqlite", func(tb testing.TB) []string { return []string{"LEDGER_DATA_DIR=" + tb.TempDir()} }},
	{"postgres", func(tb testing.TB) []string {
		return []string{"LEDGER_DATABASE_URL=" + pgtest.SchemaURL(tb), testSecretKeyEnv, testSigningKeyEnv}
	}},
	{"eventstoredb", func(tb testing.TB) []string {
		return []string{"LEDGER_DATABASE_URL=" + pgtest.SchemaURL(tb), "LEDGER_EVENTSTORE_URL=" + eventstoreURL(tb), testSecretKeyEnv, testSigningKeyEnv}
	}},
}

// eventstoreURL is the EventStoreDB server of a test: the one
// LEDGER_TEST_EVENTSTORE_URL names, or a fresh emulated one.
func eventstoreURL(tb testing.TB) string {
	if url := os.Getenv("LEDGER_TEST_EVENTSTORE_URL"); url != "" {
		return url
	}
	return esdbtest.Start(tb).URL()
}
