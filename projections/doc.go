// Package projections will build the read models (referral lists,
// leaderboards, stats) from the event store's global log. The seam they
// consume is domain.EventStore's ReadAll and WaitForEvents: read a batch
// after the checkpoint, apply it and save the new checkpoint in one SQL
// transaction, then wait for more. Nothing is built here yet; the referral
// read path (GET /v1/api/referral/{code}) reads the referral's own stream.
package projections
