package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/referral-ledger/referral-ledger/adapters/httpapi"
	"github.com/referral-ledger/referral-ledger/adapters/webhooks"
	"github.com/referral-ledger/referral-ledger/projections"
)

// projectionsReady is /readyz's projections check: failing when the
// referrals projection lags too far, degraded (still ready: the other
// events keep flowing) while any projection holds quarantined events.
func (m *Main) projectionsReady(ctx context.Context) error {
	lag, err := m.projectionLag(ctx)
	if err != nil {
		return err
	}
	if lag > maxReadyLag {
		return fmt.Errorf("the %s projection is %s behind the log", projections.ReferralsName, lag.Round(time.Second))
	}
	counts, err := projections.QuarantineCounts(ctx, m.write)
	if err != nil {
		return err
	}
	n := 0
	for _, c := range counts {
		n += c
	}
	switch {
	case n == 1:
		return httpapi.Degraded{Reason: "1 quarantined event"}
	case n > 1:
		return httpapi.Degraded{Reason: fmt.Sprintf("%d quarantined events", n)}
	}
	return nil
}

// quarantineCollector exports ledger_projection_quarantined_events, read
// from the quarantine table at each scrape so that every replica reports
// the same figure and a retry that clears events lowers it.
type quarantineCollector struct{ m *Main }

var quarantinedDesc = prometheus.NewDesc("ledger_projection_quarantined_events",
	"Events (or webhook messages) a projection could not apply and set aside; see `projections status`.",
	[]string{"projection"}, nil)

// Describe implements prometheus.Collector.
func (c quarantineCollector) Describe(ch chan<- *prometheus.Desc) { ch <- quarantinedDesc }

// Collect implements prometheus.Collector.
func (c quarantineCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := projections.QuarantineCounts(ctx, c.m.write)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(quarantinedDesc, err)
		return
	}
	// The projections and the dispatcher report 0 rather than nothing.
	for _, name := range []string{projections.ReferralsName, forwarderName, webhooks.DispatcherName} {
		counts[name] += 0
	}
	for name, n := range counts {
		ch <- prometheus.MustNewConstMetric(quarantinedDesc, prometheus.GaugeValue, float64(n), name)
	}
}

// printQuarantine writes the quarantined events under status's table.
func printQuarantine(ctx context.Context, m *Main, e env) error {
	qs, err := projections.QuarantinedEvents(ctx, m.write, "")
	if err != nil || len(qs) == 0 {
		return err
	}
	fmt.Fprintf(e.stdout, "\n%d quarantined events (`projections retry-quarantined` applies them again):\n", len(qs))
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECTION\tPOSITION\tEVENT\tSTREAM\tTYPE\tSINCE\tERROR")
	for _, q := range qs {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", q.Projection, q.Position, q.EventID, q.Stream, q.EventType,
			time.UnixMilli(q.QuarantinedAt).UTC().Format(time.RFC3339), strings.ReplaceAll(q.Error, "\n", " "))
	}
	return tw.Flush()
}

type projectionsRetryCmd struct {
	Name string `arg:"" optional:"" help:"The projection whose events to retry (referrals, webhooks, webhooks-dispatcher); all by default."`
	webhookFlags
}

func (c *projectionsRetryCmd) Run(ctx context.Context, e env) error {
	names := []string{projections.ReferralsName, forwarderName, webhooks.DispatcherName}
	if c.Name != "" && !slices.Contains(names, c.Name) {
		return fmt.Errorf("unknown projection %q: the projections are: %s", c.Name, strings.Join(names, ", "))
	}
	return e.with(ctx, "", func(m *Main) error {
		counts, err := projections.QuarantineCounts(ctx, m.write)
		if err != nil {
			return err
		}
		for _, name := range names {
			if (c.Name != "" && name != c.Name) || counts[name] == 0 {
				continue
			}
			var h projections.Handler = m.readModels
			if name != projections.ReferralsName {
				// The dispatcher's messages are published again from their events.
				m.cfg.Webhooks = c.webhookFlags.config()
				wh, _, err := m.openWebhooks(prometheus.NewRegistry())
				if err != nil {
					return err
				}
				h = wh.Forwarder()
			}
			res, err := projections.RetryQuarantined(ctx, m.store, m.write, name, h)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s: %d applied, %d still failing\n", name, res.Applied, res.Failing)
		}
		return nil
	})
}
