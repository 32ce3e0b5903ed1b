// Command referral-ledger runs the Referral Ledger service and its
// administration commands. README.md walks through running it.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"
)

// storeFlags are read by every subcommand to find the stores.
type storeFlags struct {
	DataDir       string `name:"data-dir" env:"LEDGER_DATA_DIR" default:"./data" help:"Directory of the embedded SQLite store."`
	DatabaseURL   string `name:"database-url" env:"LEDGER_DATABASE_URL" help:"postgres:// URL; empty uses the embedded SQLite store."`
	EventstoreURL string `name:"eventstore-url" env:"LEDGER_EVENTSTORE_URL" help:"esdb:// URL of EventStoreDB; empty keeps events in the database."`
	LogLevel      string `name:"log-level" env:"LEDGER_LOG_LEVEL" default:"info" enum:"debug,info,warn,error" help:"Log level."`
	LogFormat     string `name:"log-format" env:"LEDGER_LOG_FORMAT" default:"text" enum:"text,json" help:"Log format."`
}

type cli struct {
	storeFlags
	Serve       serveCmd       `cmd:"" help:"Run the API."`
	Appspace    appspaceCmd    `cmd:"" help:"Manage appspaces."`
	Apikey      apikeyCmd      `cmd:"" name:"apikey" help:"Manage API keys."`
	Events      eventsCmd      `cmd:"" help:"Read the event log."`
	Migrate     migrateCmd     `cmd:"" help:"Apply schema migrations."`
	Projections projectionsCmd `cmd:"" help:"Inspect the read models."`
	Audit       auditCmd       `cmd:"" help:"Verify the ledger's signed checkpoints."`
}

// env is bound into every command's Run.
type env struct {
	stdout, stderr io.Writer
	flags          *storeFlags
}

func (e env) logger() *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(e.flags.LogLevel)) // validated by kong's enum
	opts := &slog.HandlerOptions{Level: level}
	if e.flags.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(e.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(e.stderr, opts))
}

// open opens the stores for a subcommand.
func (e env) open(ctx context.Context, addr string) (*Main, error) {
	return Open(ctx, Config{
		Addr: addr, DataDir: e.flags.DataDir, DatabaseURL: e.flags.DatabaseURL,
		EventstoreURL: e.flags.EventstoreURL, Logger: e.logger(), Out: e.stdout,
	})
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "referral-ledger:", err)
		os.Exit(1)
	}
}

// run parses args and runs the chosen subcommand.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c cli
	exit := -1
	parser, err := kong.New(&c,
		kong.Name("referral-ledger"),
		kong.Description("An event-sourced referral program backend."),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { exit = code }),
		kong.BindTo(ctx, (*context.Context)(nil)),
	)
	if err != nil {
		return err
	}
	kctx, err := parser.Parse(args)
	if exit >= 0 { // --help
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w (see --help)", err)
	}
	if strings.TrimSpace(c.DataDir) == "" {
		return fmt.Errorf("--data-dir must not be empty")
	}
	return kctx.Run(env{stdout: stdout, stderr: stderr, flags: &c.storeFlags})
}
