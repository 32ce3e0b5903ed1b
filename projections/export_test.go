package projections

// RebuildReferralsInBatches is RebuildReferrals in batches of n events, so
// that a small log takes many batches.
var RebuildReferralsInBatches = rebuildReferrals
