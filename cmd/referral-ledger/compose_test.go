package main

import (
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/referral-ledger/referral-ledger/adapters/eventstoredb"
)

// compose is the part of docker-compose.yml that the test checks.
type compose struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       string            `yaml:"build"`
		Environment map[string]string `yaml:"environment"`
		Ports       []string          `yaml:"ports"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		Healthcheck struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
}

// cliEnvVars returns the environment variables the binary reads: the env
// tags of every flag of every command of the CLI model.
func cliEnvVars(tb testing.TB) map[string]bool {
	tb.Helper()
	parser, err := kong.New(&cli{}, kong.Name("referral-ledger"))
	if err != nil {
		tb.Fatal(err)
	}
	vars := map[string]bool{}
	var walk func(n *kong.Node)
	walk = func(n *kong.Node) {
		for _, f := range n.Flags {
			for _, e := range f.Envs {
				vars[e] = true
			}
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(parser.Model.Node)
	return vars
}

// interpolation resolves ${VAR:-default} as compose does with VAR unset.
var interpolation = regexp.MustCompile(`\$\{[A-Z_]+:-([^}]*)\}`)

// required is ${VAR:?message}: compose refuses to start while VAR is unset.
var required = regexp.MustCompile(`^\$\{([A-Z_]+):\?[^}]+\}$`)

func TestDockerCompose(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	var names []string
	for name := range c.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	if diff := cmp.Diff(names, []string{"kurrentdb", "postgres", "referral-ledger"}); diff != "" {
		t.Fatalf("services (-got +want):\n%s", diff)
	}
	ledger, es, pg := c.Services["referral-ledger"], c.Services["kurrentdb"], c.Services["postgres"]

	// The ledger is built from this repository and waits for healthy stores.
	if ledger.Build != "." {
		t.Errorf("referral-ledger build: got %q, want \".\" (the repository's Dockerfile)", ledger.Build)
	}
	if _, err := os.Stat("../../Dockerfile"); err != nil {
		t.Errorf("Dockerfile: %v", err)
	}
	for _, dep := range []string{"kurrentdb", "postgres"} {
		if got := ledger.DependsOn[dep].Condition; got != "service_healthy" {
			t.Errorf("referral-ledger depends on %s with condition %q, want service_healthy", dep, got)
		}
		if len(c.Services[dep].Healthcheck.Test) == 0 {
			t.Errorf("%s has no health check", dep)
		}
	}
	// KurrentDB is pinned to the version the adapter is written for, not
	// whatever "latest" is on the day of the pull.
	if es.Image != "kurrentplatform/kurrentdb:25.0" {
		t.Errorf("kurrentdb image: got %q, want the pinned kurrentplatform/kurrentdb:25.0", es.Image)
	}
	if !strings.HasPrefix(pg.Image, "postgres:16") {
		t.Errorf("postgres image: got %q, want postgres:16", pg.Image)
	}

	// Every LEDGER_ variable set is one the binary reads.
	env := map[string]string{}
	known := cliEnvVars(t)
	for k, v := range ledger.Environment {
		env[k] = interpolation.ReplaceAllString(v, "$1")
		if !known[k] {
			t.Errorf("referral-ledger sets %s, which the binary does not read", k)
		}
	}
	// The webhook key seals secrets at rest: a key written in this file
	// would be everyone's key, so compose must refuse to start without one.
	if m := required.FindStringSubmatch(ledger.Environment["LEDGER_WEBHOOK_SECRET_KEY"]); m == nil || m[1] != "LEDGER_WEBHOOK_SECRET_KEY" {
		t.Errorf("LEDGER_WEBHOOK_SECRET_KEY is %q, want ${LEDGER_WEBHOOK_SECRET_KEY:?message} (no default key)",
			ledger.Environment["LEDGER_WEBHOOK_SECRET_KEY"])
	}
	for _, k := range []string{"LEDGER_ADDR", "LEDGER_DATABASE_URL", "LEDGER_EVENTSTORE_URL", "LEDGER_WEBHOOK_SECRET_KEY"} {
		if env[k] == "" {
			t.Errorf("referral-ledger does not set %s", k)
		}
	}

	// The API's port is published on 8080.
	_, port, err := net.SplitHostPort(env["LEDGER_ADDR"])
	if err != nil {
		t.Fatalf("LEDGER_ADDR %q: %v", env["LEDGER_ADDR"], err)
	}
	if want := "8080:" + port; !slices.Contains(ledger.Ports, want) {
		t.Errorf("referral-ledger ports: got %v, want %s", ledger.Ports, want)
	}

	// The URLs name the other services with their credentials.
	db, err := url.Parse(env["LEDGER_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	pass, _ := db.User.Password()
	if db.Scheme != "postgres" || db.Hostname() != "postgres" || db.User.Username() != pg.Environment["POSTGRES_USER"] ||
		pass != pg.Environment["POSTGRES_PASSWORD"] || strings.TrimPrefix(db.Path, "/") != pg.Environment["POSTGRES_DB"] {
		t.Errorf("LEDGER_DATABASE_URL %s does not match the postgres service's %v", db.Redacted(), pg.Environment)
	}
	if err := (eventstoredb.Config{URL: env["LEDGER_EVENTSTORE_URL"]}).Validate(); err != nil {
		t.Errorf("LEDGER_EVENTSTORE_URL: %v", err)
	}
	esURL, err := url.Parse(env["LEDGER_EVENTSTORE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	if esURL.Host != "kurrentdb:2113" || esURL.Query().Get("tls") != "false" || es.Environment["KURRENTDB_INSECURE"] != "true" {
		t.Errorf("LEDGER_EVENTSTORE_URL %s: want esdb://kurrentdb:2113?tls=false against an insecure node (KURRENTDB_INSECURE=%q)",
			esURL, es.Environment["KURRENTDB_INSECURE"])
	}
}
