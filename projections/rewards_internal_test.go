package projections

import "testing"

// What total_reward_value says of a referrer's reward values.
func TestRewardTotalRules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		values []string
		want   string // "" for null
	}{
		{"none", nil, ""},
		{"one integer", []string{"500"}, "500"},
		{"integers", []string{"500", "500", "500"}, "1500"},
		{"dollars", []string{"$5", "$10"}, "$15"},
		{"the most decimals seen", []string{"$5", "$10.50", "$0.25"}, "$15.75"},
		{"decimals kept when round", []string{"10.50 EUR", "10.50 EUR"}, "21.00 EUR"},
		{"a fraction alone", []string{"$0.05"}, "$0.05"},
		{"leading zeros", []string{"007", "1"}, "8"},
		{"mixed prefixes", []string{"$5", "€5"}, ""},
		{"mixed suffixes", []string{"5 EUR", "5 USD"}, ""},
		{"prefix against suffix", []string{"$5", "5 EUR"}, ""},
		{"percentages", []string{"10% off", "10% off"}, ""},
		{"percentage with a space", []string{"10 % off"}, ""},
		{"no number", []string{"Free month"}, ""},
		{"one bad value spoils the sum", []string{"$5", "Free month"}, ""},
		{"two numbers", []string{"5 for 10"}, ""},
		{"negative", []string{"-5"}, ""},
		{"no integer part", []string{".5"}, ""},
		{"too many decimals", []string{"0.00001"}, ""},
		{"too many digits", []string{"1234567890"}, ""},
		{"nine digits", []string{"999999999", "1"}, "1000000000"},
		{"a trailing point is suffix", []string{"5.", "5."}, "10."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			tot := rewardTotal{}
			for _, v := range tc.values {
				f, units := parseReward(v)
				tot.add(f, 1, units)
			}
			if p := tot.value(); p != nil {
				got = *p
			}
			if got != tc.want {
				t.Errorf("total of %q = %q, want %q (\"\" is null)", tc.values, got, tc.want)
			}
		})
	}
}
