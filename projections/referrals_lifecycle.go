package projections

import (
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/referral-ledger/referral-ledger/domain"
)

// lifecycleColumns are rm_referrals' columns of the reward lifecycle, at
// the end of referralColumns, in the order of lifecycleValues.
const lifecycleColumns = `referrer_ip, referrer_device_id, reward_available_at, reward_reversal,
	referee_reward_reversal, review_state, review_flagged_at, review_resolved_at, review, voided_at, void_reason`

// reversalRow is a side's reversal as stored (reward_reversal,
// referee_reward_reversal).
type reversalRow struct {
	Reason     string `json:"reason"`
	Clawback   bool   `json:"clawback"`
	ReversedAt int64  `json:"reversed_at"` // unix ms
}

// reviewRow is what the review column holds; its state and times have
// columns of their own, for the queue and the stats.
type reviewRow struct {
	Reasons      []string `json:"reasons"`
	Note         string   `json:"note"`
	HoldsRewards bool     `json:"holds_rewards"`
}

// lifecycleValues returns a view's lifecycle columns, in lifecycleColumns
// order.
func lifecycleValues(v domain.ReferralView) ([]any, error) {
	rev, err := reversalValue(v.RewardReversal)
	if err != nil {
		return nil, err
	}
	refRev, err := reversalValue(v.RefereeRewardReversal)
	if err != nil {
		return nil, err
	}
	var state, review *string
	var flagged, resolved *int64
	if rv := v.Review; rv != nil {
		b, err := json.Marshal(reviewRow{Reasons: rv.Reasons, Note: rv.Note, HoldsRewards: rv.HoldsRewards})
		if err != nil {
			return nil, fmt.Errorf("encode the review of %s: %w", v.ReferralCode, err)
		}
		s, f := string(b), rv.FlaggedAt.UnixMilli()
		state, review, flagged, resolved = &rv.State, &s, &f, millis(rv.ResolvedAt)
	}
	return []any{orNull(v.ReferrerIP), orNull(v.ReferrerDeviceID), millis(v.RewardAvailableAt), rev, refRev,
		state, flagged, resolved, review, millis(v.VoidedAt), v.VoidReason}, nil
}

func reversalValue(r *domain.Reversal) (*string, error) {
	if r == nil {
		return nil, nil
	}
	b, err := json.Marshal(reversalRow{Reason: r.Reason, Clawback: r.Clawback, ReversedAt: r.ReversedAt.UnixMilli()})
	if err != nil {
		return nil, fmt.Errorf("encode a reversal: %w", err)
	}
	s := string(b)
	return &s, nil
}

// orNull returns s, or nil when it is empty.
func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// lifecycleScan holds the scan targets of lifecycleColumns.
type lifecycleScan struct {
	ip, device, rev, refRev, state, review sql.NullString
	available, flagged, resolved, voided   sql.NullInt64
	voidReason                             *string
}

func (l *lifecycleScan) targets() []any {
	return []any{&l.ip, &l.device, &l.available, &l.rev, &l.refRev,
		&l.state, &l.flagged, &l.resolved, &l.review, &l.voided, &l.voidReason}
}

// into sets v's lifecycle fields from the scanned columns.
func (l *lifecycleScan) into(v *domain.ReferralView) error {
	v.ReferrerIP, v.ReferrerDeviceID = l.ip.String, l.device.String
	v.RewardAvailableAt, v.VoidedAt, v.VoidReason = timeOf(l.available), timeOf(l.voided), l.voidReason
	var err error
	if v.RewardReversal, err = reversalOf(l.rev); err != nil {
		return fmt.Errorf("decode the reversal of %s: %w", v.ReferralCode, err)
	}
	if v.RefereeRewardReversal, err = reversalOf(l.refRev); err != nil {
		return fmt.Errorf("decode the referee reversal of %s: %w", v.ReferralCode, err)
	}
	if !l.state.Valid {
		return nil
	}
	var r reviewRow
	if err := json.Unmarshal([]byte(l.review.String), &r); err != nil {
		return fmt.Errorf("decode the review of %s: %w", v.ReferralCode, err)
	}
	v.Review = &domain.Review{State: l.state.String, Reasons: r.Reasons, FlaggedAt: fromMillis(l.flagged.Int64),
		ResolvedAt: timeOf(l.resolved), Note: r.Note, HoldsRewards: r.HoldsRewards}
	return nil
}

func reversalOf(s sql.NullString) (*domain.Reversal, error) {
	if !s.Valid {
		return nil, nil
	}
	var r reversalRow
	if err := json.Unmarshal([]byte(s.String), &r); err != nil {
		return nil, err
	}
	return &domain.Reversal{Reason: r.Reason, Clawback: r.Clawback, ReversedAt: fromMillis(r.ReversedAt)}, nil
}
