// Package projections builds the read models (referral lists, leaderboards,
// stats) from the event store's global log, and keeps them there: a
// checkpointed Runner applies each batch and its checkpoint in one SQL
// transaction, the Referrals projection applies events with the domain's
// own aggregate, and a Sweeper records due expiries through the domain so
// that the read models never wait for someone to read a referral.
package projections
