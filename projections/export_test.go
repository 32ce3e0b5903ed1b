package projections

// RebuildReferralsInBatches is RebuildReferrals in batches of n events, so
// that a small log takes many batches.
var RebuildReferralsInBatches = rebuildReferrals

// RewardTotal is what total_reward_value says of a referrer whose
// completed referrals have these reward values: the definition the read
// models must agree with.
func RewardTotal(values []string) *string {
	t := rewardTotal{}
	for _, v := range values {
		f, units := parseReward(v)
		t.add(f, 1, units)
	}
	return t.value()
}
