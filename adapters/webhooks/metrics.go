package webhooks

import (
	"context"
	"database/sql"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the delivery metrics: attempts and final states by outcome,
// attempt latency, and (read from the database at scrape time, so they
// count every replica's work) queue depth and the oldest due delivery.
type metrics struct {
	w        *core
	queued   prometheus.Counter
	attempts *prometheus.CounterVec
	finished *prometheus.CounterVec
	latency  prometheus.Histogram
	// commits counts the worker's transactions: a claim, a recorded batch.
	commits *prometheus.CounterVec
}

func newMetrics(w *core) *metrics {
	return &metrics{
		w: w,
		queued: prometheus.NewCounter(prometheus.CounterOpts{Name: "ledger_webhook_deliveries_queued_total",
			Help: "Delivery rows the dispatcher created."}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ledger_webhook_attempts_total",
			Help: "Delivery attempts by outcome (success, failure)."}, []string{"outcome"}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ledger_webhook_deliveries_total",
			Help: "Deliveries that reached a final state (succeeded, failed)."}, []string{"state"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ledger_webhook_attempt_duration_seconds",
			Help: "Time from sending a delivery attempt to its response.", Buckets: prometheus.DefBuckets}),
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ledger_webhook_worker_commits_total",
			Help: "Transactions the delivery worker committed: claims of due deliveries, recorded batches of attempts."},
			[]string{"kind"}),
	}
}

func (m *metrics) register(reg prometheus.Registerer) error {
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ledger_webhook_queue_depth",
		Help: "Pending deliveries of active webhooks (due now or waiting for a retry)."}, func() float64 {
		var n sql.NullInt64
		m.query(&n, `SELECT count(*) FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
			WHERE d.state = 'pending' AND w.active`)
		return float64(n.Int64)
	})
	oldest := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ledger_webhook_oldest_due_seconds",
		Help: "How long the oldest due delivery has waited past its due time (0 when none is due)."}, func() float64 {
		var at sql.NullInt64
		// Per endpoint, the first entry of its due index.
		m.query(&at, `SELECT min((SELECT min(d.next_attempt_at) FROM webhook_deliveries d
			WHERE d.webhook_id = w.id AND d.state = 'pending' AND d.next_attempt_at <= ?)) FROM webhooks w WHERE w.active`,
			m.w.now().UnixMilli())
		switch {
		case !at.Valid:
			return 0
		case at.Int64 < 0:
			return -1
		}
		return max(0, time.Since(time.UnixMilli(at.Int64)).Seconds())
	})
	for _, c := range []prometheus.Collector{m.queued, m.attempts, m.finished, m.latency, m.commits, depth, oldest, newEndpointCollector(m.w)} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// query reads one value for a gauge; -1 when the database cannot answer.
func (m *metrics) query(dest *sql.NullInt64, q string, args ...any) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := m.w.read.GetContext(ctx, dest, m.w.read.Rebind(q), args...); err != nil {
		*dest = sql.NullInt64{Int64: -1, Valid: true}
	}
}

// observe counts a recorded attempt and the state it left its delivery in.
func (m *metrics) observe(at attemptResult, state string) {
	outcome := "failure"
	if at.Success {
		outcome = "success"
	}
	m.attempts.WithLabelValues(outcome).Inc()
	m.latency.Observe(at.Elapsed.Seconds())
	if state != statePending {
		m.finished.WithLabelValues(state).Inc()
	}
}
