package main

import "github.com/referral-ledger/referral-ledger/domain"

func originFor(appspaceID string) domain.Origin {
	return domain.Origin{AppspaceID: appspaceID, RequestID: domain.NewID()}
}

func createInput(user string) domain.CreateInput { return domain.CreateInput{ReferrerID: user} }
