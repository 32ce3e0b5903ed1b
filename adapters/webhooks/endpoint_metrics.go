package webhooks

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// endpointCollector exports per-endpoint gauges labelled by webhook id (one
// series per webhook, which the API allows): this replica's requests in
// flight, and from the database, so every replica agrees, the breaker
// state (0 active, 1 paused, 2 disabled) and the failure streak.
type endpointCollector struct {
	w                       *core
	inFlight, state, streak *prometheus.Desc
}

func newEndpointCollector(w *core) *endpointCollector {
	label := []string{"webhook_id"}
	return &endpointCollector{w: w,
		inFlight: prometheus.NewDesc("ledger_webhook_endpoint_in_flight",
			"Requests this replica has in flight to the endpoint.", label, nil),
		state: prometheus.NewDesc("ledger_webhook_endpoint_breaker_state",
			"The endpoint's circuit: 0 active, 1 paused (open), 2 disabled.", label, nil),
		streak: prometheus.NewDesc("ledger_webhook_endpoint_failure_streak",
			"Consecutive failed attempts to the endpoint.", label, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *endpointCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.inFlight
	ch <- c.state
	ch <- c.streak
}

// Collect implements prometheus.Collector.
func (c *endpointCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var rows []struct {
		ID     string `db:"id"`
		State  string `db:"state"`
		Streak int    `db:"failure_streak"`
	}
	err := c.w.read.SelectContext(ctx, &rows, `SELECT id, state, failure_streak FROM webhooks WHERE deleted_at IS NULL`)
	inFlight := c.w.ends.inFlight()
	if err != nil {
		c.w.log.Warn("webhook endpoint metrics", "err", err)
	}
	for _, r := range rows {
		state := 0.0
		switch r.State {
		case breakerPaused:
			state = 1
		case breakerDisabled:
			state = 2
		}
		ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, state, r.ID)
		ch <- prometheus.MustNewConstMetric(c.streak, prometheus.GaugeValue, float64(r.Streak), r.ID)
		ch <- prometheus.MustNewConstMetric(c.inFlight, prometheus.GaugeValue, float64(inFlight[r.ID]), r.ID)
	}
}
