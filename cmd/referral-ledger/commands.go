package main

import (
	"bytes"
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/httpapi"
	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

type serveCmd struct {
	Addr      string  `name:"addr" env:"LEDGER_ADDR" default:":8080" help:"Address the API listens on."`
	RateLimit float64 `name:"rate-limit" env:"LEDGER_RATE_LIMIT" default:"100" help:"Requests per second per API key (0: no limit)."`
	RateBurst int     `name:"rate-burst" env:"LEDGER_RATE_BURST" default:"0" help:"Burst per API key (0: twice the rate)."`
	Console   bool    `name:"console" env:"LEDGER_CONSOLE" default:"true" negatable:"" help:"Serve the operator console at / (--console=false or --no-console: off)."`
	webhookFlags
	limitFlags
	auditFlags
}

func (c *serveCmd) Run(ctx context.Context, e env) error {
	if c.RateLimit < 0 || c.RateBurst < 0 {
		return fmt.Errorf("--rate-limit and --rate-burst must not be negative")
	}
	limits, err := c.limitFlags.config()
	if err != nil {
		return err
	}
	return e.with(ctx, c.Addr, func(m *Main) error {
		m.cfg.RateLimit, m.cfg.RateBurst, m.cfg.Limits = c.RateLimit, c.RateBurst, limits
		m.cfg.Webhooks = c.webhookFlags.config()
		m.cfg.Audit.SigningKey, m.cfg.Audit.Interval = c.CheckpointSigningKey, c.CheckpointInterval
		m.cfg.Console = c.Console
		return m.Run(ctx)
	})
}

type migrateCmd struct{}

func (migrateCmd) Run(ctx context.Context, e env) error {
	return e.with(ctx, "", func(*Main) error { // opening applies the migrations
		fmt.Fprintln(e.stdout, "migrations applied")
		return nil
	})
}

// with opens the stores, runs f and closes them.
func (e env) with(ctx context.Context, addr string, f func(*Main) error) (err error) {
	m, err := e.open(ctx, addr)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := m.Close(); err == nil {
			err = cerr
		}
	}()
	return f(m)
}

type appspaceCmd struct {
	Create appspaceCreateCmd `cmd:"" help:"Create an appspace."`
	List   appspaceListCmd   `cmd:"" help:"List appspaces."`
}

type appspaceCreateCmd struct {
	Name string `arg:"" help:"Unique appspace name."`
}

func (c *appspaceCreateCmd) Run(ctx context.Context, e env) error {
	return e.with(ctx, "", func(m *Main) error {
		as, err := m.access.CreateAppspace(ctx, c.Name)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s\t%s\n", as.ID, as.Name)
		return nil
	})
}

type appspaceListCmd struct{}

func (appspaceListCmd) Run(ctx context.Context, e env) error {
	return e.with(ctx, "", func(m *Main) error {
		spaces, err := m.access.ListAppspaces(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tCREATED")
		for _, as := range spaces {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", as.ID, as.Name, as.CreatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	})
}

type apikeyCmd struct {
	Create apikeyCreateCmd `cmd:"" help:"Create an API key; the key is printed once, alone on the last line."`
	List   apikeyListCmd   `cmd:"" help:"List API keys (never their secrets)."`
	Revoke apikeyRevokeCmd `cmd:"" help:"Revoke an API key."`
}

type apikeyCreateCmd struct {
	Appspace string `required:"" help:"Appspace name or ID."`
	Role     string `required:"" enum:"server,analyst,auditor,reviewer" help:"server, analyst, auditor or reviewer."`
	Name     string `help:"A label for the key."`
}

func (c *apikeyCreateCmd) Run(ctx context.Context, e env) error {
	return e.with(ctx, "", func(m *Main) error {
		k, secret, err := m.access.CreateKey(ctx, c.Appspace, c.Role, c.Name)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "# key %s, role %s, appspace %s; shown only now\n%s\n", k.ID, k.Role, k.AppspaceID, secret)
		return nil
	})
}

type apikeyListCmd struct {
	Appspace string `help:"Only this appspace's keys (name or ID)."`
}

func (c *apikeyListCmd) Run(ctx context.Context, e env) error {
	return e.with(ctx, "", func(m *Main) error {
		id := ""
		if c.Appspace != "" {
			as, err := m.access.FindAppspace(ctx, c.Appspace)
			if err != nil {
				return err
			}
			id = as.ID
		}
		keys, err := m.access.ListKeys(ctx, id)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tAPPSPACE\tROLE\tNAME\tCREATED\tREVOKED")
		for _, k := range keys {
			revoked := "-"
			if k.RevokedAt != nil {
				revoked = k.RevokedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.AppspaceID, k.Role, k.Name, k.CreatedAt.Format(time.RFC3339), revoked)
		}
		return tw.Flush()
	})
}

type apikeyRevokeCmd struct {
	ID string `arg:"" help:"Key ID (key_...)."`
}

func (c *apikeyRevokeCmd) Run(ctx context.Context, e env) error {
	return e.with(ctx, "", func(m *Main) error {
		if err := m.access.RevokeKey(ctx, c.ID); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "revoked %s\n", c.ID)
		return nil
	})
}

type eventsCmd struct {
	Export eventsExportCmd `cmd:"" help:"Write the event log to stdout."`
	Import eventsImportCmd `cmd:"" help:"Append an export's events to an empty store (of any profile); a rerun continues an interrupted import."`
}

type eventsExportCmd struct {
	After    uint64 `help:"Start after this position."`
	Format   string `default:"jsonl" enum:"jsonl" help:"Output format."`
	Appspace string `help:"Only this appspace's events (name or ID)."`
}

func (c *eventsExportCmd) Run(ctx context.Context, e env) error {
	return e.with(ctx, "", func(m *Main) error {
		prefix := ""
		if c.Appspace != "" {
			as, err := m.access.FindAppspace(ctx, c.Appspace)
			if err != nil {
				return err
			}
			prefix = domain.StreamPrefix(as.ID)
		}
		var buf bytes.Buffer
		after, n, progress := c.After, 0, newMeter(e.stderr)
		defer progress.done()
		for {
			batch, err := m.store.ReadAll(ctx, domain.ReadAllOptions{After: after, Limit: 1000, StreamPrefix: prefix})
			if err != nil {
				return err
			}
			if len(batch) == 0 {
				return nil
			}
			// A batch's lines are written at once: a write per event
			// was most of an export's time.
			buf.Reset()
			for _, ev := range batch {
				if err := httpapi.AppendEventLine(&buf, ev); err != nil {
					_, _ = e.stdout.Write(buf.Bytes()) // the events before it, as before
					return fmt.Errorf("event %s (position %d): %w", ev.ID, ev.Position, err)
				}
			}
			if _, err := e.stdout.Write(buf.Bytes()); err != nil {
				return err
			}
			after = batch[len(batch)-1].Position
			n += len(batch)
			progress.show("exporting: %d events, at position %d", n, after)
		}
	})
}

type projectionsCmd struct {
	Status  projectionsStatusCmd  `cmd:"" help:"Print each projection's checkpoint, lag and quarantined events."`
	Rebuild projectionsRebuildCmd `cmd:"" help:"Replay the log into new read-model tables and switch over; serve may keep running."`
	Retry   projectionsRetryCmd   `cmd:"" name:"retry-quarantined" help:"Apply the quarantined events again (after a fix); those that now apply leave the quarantine."`
}

type projectionsRebuildCmd struct {
	Name string `arg:"" optional:"" default:"referrals" help:"The projection to rebuild (referrals)."`
}

func (c *projectionsRebuildCmd) Run(ctx context.Context, e env) error {
	if c.Name != projections.ReferralsName {
		return fmt.Errorf("unknown projection %q: the projections are: %s", c.Name, projections.ReferralsName)
	}
	return e.with(ctx, "", func(m *Main) error {
		start, progress := time.Now(), newMeter(e.stderr)
		progress.show("rebuilding %s: 0 events applied", c.Name)
		cp, err := projections.RebuildReferrals(ctx, m.store, m.runner.DB(), m.readModels, func(applied int) {
			progress.show("rebuilding %s: %d events applied", c.Name, applied)
		})
		progress.done()
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "rebuilt %s: %d events in %s, now at position %d\n",
			c.Name, cp.Applied, time.Since(start).Round(time.Millisecond), cp.Position)
		counts, err := projections.QuarantineCounts(ctx, m.write)
		if n := counts[c.Name]; n > 0 {
			fmt.Fprintf(e.stdout, "%d events quarantined: see `projections status`\n", n)
		}
		return err
	})
}

type projectionsStatusCmd struct{}

func (projectionsStatusCmd) Run(ctx context.Context, e env) error {
	return e.with(ctx, "", func(m *Main) error {
		cs, err := projections.Checkpoints(ctx, m.runner.DB())
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		counts, err := projections.QuarantineCounts(ctx, m.write)
		if err != nil {
			return err
		}
		fmt.Fprintln(tw, "PROJECTION\tPOSITION\tAPPLIED\tLAG\tQUARANTINED")
		for _, c := range cs {
			lag, err := projections.Lag(ctx, m.store, c, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\n", c.Name, c.Position, c.Applied, lag.Round(time.Millisecond), counts[c.Name])
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		return printQuarantine(ctx, m, e)
	})
}
