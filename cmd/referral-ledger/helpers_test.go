package main

import "github.com/referral-ledger/referral-ledger/domain"

func originFor(appspaceID string) domain.Origin {
	return domain.Origin{AppspaceID: appspaceID, RequestID: domain.NewID()}
}

func createInput(user string) domain.CreateInput { return domain.CreateInput{ReferrerID: user} }

// testSecretKeyEnv gives serve on PostgreSQL the webhook secret key it
// requires (a fixed test key: 32 zero bytes would do, but not in production).
const testSecretKeyEnv = "LEDGER_WEBHOOK_SECRET_KEY=dGVzdC1vbmx5LXdlYmhvb2stc2VjcmV0LWtleS0zMmI="
