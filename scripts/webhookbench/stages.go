package main

import (
	"log"
	"slices"
	"time"
)

// stages splits each arrival's delay at its delivery row's creation: from
// the append's return to the dispatcher's row (forwarder, topic,
// dispatcher), and from the row to the receiver (claim, request).
func (b *bench) stages(sent map[string]time.Time) (queued, delivered []time.Duration) {
	var rows []struct {
		Code    string `db:"referral_code"`
		Created int64  `db:"created_at"`
	}
	if err := b.st.Read.Select(&rows, b.st.Read.Rebind(`SELECT referral_code, created_at FROM webhook_deliveries
		WHERE webhook_id = ? AND referral_code IS NOT NULL`), b.fastID); err != nil {
		log.Fatal(err)
	}
	b.recv.mu.Lock()
	defer b.recv.mu.Unlock()
	for _, r := range rows {
		at, ok := sent[r.Code]
		got, arrived := b.recv.arrived[r.Code]
		if !ok || !arrived {
			continue
		}
		created := time.UnixMilli(r.Created)
		queued = append(queued, max(0, created.Sub(at)))
		delivered = append(delivered, max(0, got.Sub(created)))
	}
	return queued, delivered
}

// quantile is the p-quantile of ds (sorted here), 0 when empty.
func quantile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(p*float64(len(ds))))]
}

// commits reads the worker's commits so far (ledger_webhook_worker_commits_total):
// claims and recorded batches.
func (b *bench) commits() (claims, records float64) {
	mfs, err := b.reg.Gather()
	if err != nil {
		log.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "ledger_webhook_worker_commits_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				switch l.GetValue() {
				case "claim":
					claims = m.GetCounter().GetValue()
				case "record":
					records = m.GetCounter().GetValue()
				}
			}
		}
	}
	return claims, records
}
