// Package domain is the referral model of Referral Ledger: the aggregates
// (a referral, a referrer, a referee guard, an appspace's settings), the
// events they record, the rules that decide them, the error type, and the
// event store port. It imports only the standard library.
package domain
