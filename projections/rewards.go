package projections

import (
	"math/big"
	"strings"

	"github.com/referral-ledger/referral-ledger/domain"
)

// A leaderboard row's total_reward_value sums the referrer-side reward
// values of the referrer's completed referrals, when every one of them is
// a number with the same text around it: "$5" and "$10.50" make "$15.50".
// The read models keep, per referrer (and per window), one row of
// rm_referrer_rewards per format (prefix, suffix, decimals) with how many
// values had it and their sum, so the total is rendered from a few rows
// and every change is an addition or a subtraction.

// Limits of a summable reward value: the sums stay far inside int64.
const (
	maxRewardDecimals = 4
	maxRewardDigits   = 9 // of the integer part, leading zeros aside
)

// rewardFormat is how a reward value reads around its number; the zero
// decimals of a summable value is 0, an unsummable value has -1 and
// empty affixes.
type rewardFormat struct {
	prefix, suffix string
	decimals       int64
}

// unsummable is the format of the values that cannot be summed.
var unsummable = rewardFormat{decimals: -1}

// parseReward reads a reward value as prefix, number, suffix: the prefix
// is the text before the first digit, the number digits with an optional
// decimal point, the suffix the rest, which holds no digit. units is the
// number in units of 10^-decimals. Values that are not such a number, or
// whose sum would mislead, are unsummable: a signed number (prefix ending
// in "-" or "+"), a prefix ending in "." or "," (".5" has no integer
// part), a percentage (suffix starting with "%": 10% off twice is not 20%
// off), more than maxRewardDecimals decimals or maxRewardDigits digits.
func parseReward(s string) (rewardFormat, int64) {
	i := strings.IndexAny(s, "0123456789")
	if i < 0 {
		return unsummable, 0
	}
	prefix, rest := s[:i], s[i:]
	if strings.HasSuffix(prefix, "-") || strings.HasSuffix(prefix, "+") ||
		strings.HasSuffix(prefix, ".") || strings.HasSuffix(prefix, ",") {
		return unsummable, 0
	}
	whole := leadingDigits(rest)
	rest = rest[len(whole):]
	frac := ""
	if len(rest) > 1 && rest[0] == '.' {
		if frac = leadingDigits(rest[1:]); frac != "" {
			rest = rest[1+len(frac):]
		}
	}
	whole = strings.TrimLeft(whole, "0")
	if strings.ContainsAny(rest, "0123456789") || strings.HasPrefix(strings.TrimLeft(rest, " "), "%") ||
		len(frac) > maxRewardDecimals || len(whole) > maxRewardDigits {
		return unsummable, 0
	}
	var units int64
	for _, c := range whole + frac {
		units = units*10 + int64(c-'0')
	}
	return rewardFormat{prefix: prefix, suffix: rest, decimals: int64(len(frac))}, units
}

// leadingDigits returns the digits s starts with.
func leadingDigits(s string) string {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return s[:n]
}

// rewardOf returns what a referral adds to its referrer's reward rows: its
// reward value's format and units, if it is completed with a value.
func rewardOf(v domain.ReferralView) (rewardFormat, int64, bool) {
	if v.Status != domain.StatusCompleted || v.RewardValue == nil {
		return rewardFormat{}, 0, false
	}
	f, units := parseReward(*v.RewardValue)
	return f, units, true
}

// rewardKey is a row of rm_referrer_rewards; days 0 is all time.
type rewardKey struct {
	appspace string
	days     int64
	referrer string
	format   rewardFormat
}

// rewardDelta is a change to a reward row: values and their sum.
type rewardDelta struct{ n, units int64 }

// rewardDeltas are a batch's changes to rm_referrer_rewards.
type rewardDeltas map[rewardKey]*rewardDelta

// add counts n referrals of v's state in the window of days (0: all time).
func (m rewardDeltas) add(v domain.ReferralView, days, n int64) {
	if f, units, ok := rewardOf(v); ok {
		m.addFormat(rewardKey{v.AppspaceID, days, v.ReferrerID, f}, n, n*units)
	}
}

func (m rewardDeltas) addFormat(k rewardKey, n, units int64) {
	d := m[k]
	if d == nil {
		d = &rewardDelta{}
		m[k] = d
	}
	d.n += n
	d.units += units
}

// rewardTotal sums one referrer's reward rows.
type rewardTotal map[rewardFormat]rewardDelta

func (t rewardTotal) add(f rewardFormat, n, units int64) {
	d := t[f]
	d.n += n
	d.units += units
	t[f] = d
}

// value renders the total: nil when no value counts, when one is
// unsummable, or when two differ in prefix or suffix. The sum has the
// most decimals any value had.
func (t rewardTotal) value() *string {
	var first *rewardFormat
	decimals := int64(0)
	for f, d := range t {
		if d.n == 0 {
			continue
		}
		if f.decimals < 0 || (first != nil && (f.prefix != first.prefix || f.suffix != first.suffix)) {
			return nil
		}
		first = &f
		decimals = max(decimals, f.decimals)
	}
	if first == nil {
		return nil
	}
	sum := new(big.Int)
	for f, d := range t {
		if d.n == 0 {
			continue
		}
		x := new(big.Int).Exp(big.NewInt(10), big.NewInt(decimals-f.decimals), nil)
		sum.Add(sum, x.Mul(x, big.NewInt(d.units)))
	}
	digits := sum.String()
	if decimals > 0 {
		if pad := int(decimals) + 1 - len(digits); pad > 0 {
			digits = strings.Repeat("0", pad) + digits
		}
		cut := len(digits) - int(decimals)
		digits = digits[:cut] + "." + digits[cut:]
	}
	out := first.prefix + digits + first.suffix
	return &out
}
