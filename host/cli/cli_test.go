package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/host/config"
)

const examplePath = "../../deploy/cdp.example.yaml"

// recorder is a Runner that records what the command line handed it.
type recorder struct {
	serveCfg  *config.Config
	serveOpts ServeOptions
	replayCfg *config.Config
	replay    ReplayOptions
}

func (r *recorder) Serve(_ context.Context, cfg config.Config, o ServeOptions) error {
	r.serveCfg, r.serveOpts = &cfg, o
	return nil
}

func (r *recorder) Replay(_ context.Context, cfg config.Config, o ReplayOptions) error {
	r.replayCfg, r.replay = &cfg, o
	return nil
}

var _ Runner = (*recorder)(nil)

type result struct {
	code           int
	stdout, stderr string
}

// run executes the command tree in process, with no CDP_CONFIG and an
// environment the test controls through t.Setenv.
func run(t *testing.T, runner Runner, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Execute(context.Background(), args, Options{
		Runner:     runner,
		Stdout:     &out,
		Stderr:     &errb,
		LookupEnv:  func(string) (string, bool) { return "", false },
		IsTerminal: func(io.Writer) bool { return true },
	})
	return result{code, out.String(), errb.String()}
}

// TestMain makes the tests hermetic: the tests that read the environment
// set the CDP_ variables they need with t.Setenv.
func TestMain(m *testing.M) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, config.EnvPrefix) {
			os.Unsetenv(k)
		}
	}
	os.Exit(m.Run())
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cdp.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHelp(t *testing.T) {
	r := run(t, nil, "--help")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"serve", "replay", "config", "version", "CDP_API_PORT", "cdp serve --simulate 2000"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("root help lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"serve", "--help"}, []string{"--simulate", "--port", "--data-dir", "--config", "--set", "Example", "cdp serve --config /etc/cdp.yaml --port 9090"}},
		{[]string{"replay", "--help"}, []string{"--speed", "--target", "--rebase-time", "--scorer", "--origin", "--class", "--max-distance", "aviation=5nm,1000ft"}},
		{[]string{"config", "validate", "--help"}, []string{"cdp config validate /etc/cdp.yaml", "exits 1"}},
		{[]string{"help", "version"}, []string{"ABI"}},
	} {
		r := run(t, nil, tc.args...)
		if r.code != ExitOK {
			t.Errorf("%v: exit %d", tc.args, r.code)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("%v help lacks %q", tc.args, w)
			}
		}
		if strings.Contains(r.stdout, "[=true|false]") {
			t.Errorf("%v help shows pflag's [=true|false] noise", tc.args)
		}
	}
}

func TestVersion(t *testing.T) {
	r := run(t, nil, "version")
	if r.code != ExitOK || !strings.Contains(r.stdout, "abi:     1.0") || !strings.Contains(r.stdout, "go:      go1.") {
		t.Fatalf("exit %d:\n%s", r.code, r.stdout)
	}
	r = run(t, nil, "version", "--json")
	var v VersionInfo
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("version --json: %v\n%s", err, r.stdout)
	}
	if v.ABIMajor != abi.VersionMajor || v.ABIMinor != abi.VersionMinor || v.Version == "" || v.GoVersion == "" {
		t.Errorf("version info: %+v", v)
	}
	if r := run(t, nil, "--version"); !strings.HasPrefix(r.stdout, "cdp "+v.Version) {
		t.Errorf("--version: %q", r.stdout)
	}
}

func TestVersionLinkTime(t *testing.T) {
	old := [3]string{version, commit, date}
	t.Cleanup(func() { version, commit, date = old[0], old[1], old[2] })
	version, commit, date = "v1.2.3", "0123456789abcdef0123", "2026-11-26T00:00:00Z"
	v := BuildVersion()
	if v.Version != "v1.2.3" || v.Commit != "0123456789abcdef0123" || v.Date != "2026-11-26T00:00:00Z" {
		t.Errorf("link-time values not used: %+v", v)
	}
	if s := v.String(); !strings.HasPrefix(s, "cdp v1.2.3 (0123456789ab") || !strings.Contains(s, "ABI 1.0") {
		t.Errorf("String: %q", s)
	}
}

func TestConfigValidate(t *testing.T) {
	r := run(t, nil, "config", "validate", "--no-env", examplePath)
	if r.code != ExitOK || r.stdout != "ok: "+examplePath+"\n" {
		t.Errorf("good file: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	bad := writeFile(t, "grid:\n  min_size: -5\n  min_sise: 3\napi:\n  port: eighty\n")
	r = run(t, nil, "config", "validate", "--no-env", bad)
	if r.code != ExitError {
		t.Errorf("bad file: exit %d", r.code)
	}
	for _, want := range []string{
		"config: " + bad + ": grid.min_size: must be > 0, got -5",
		"config: " + bad + ": grid.min_sise: unknown key (did you mean grid.min_size?)",
		"config: " + bad + `: api.port: want an integer, got string "eighty"`,
		bad + ": 3 problems",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if r.stdout != "" || strings.Count(r.stderr, "cdp: ") != 0 {
		t.Errorf("errors printed twice or to stdout: stdout %q stderr %q", r.stdout, r.stderr)
	}

	r = run(t, nil, "config", "validate", "--no-env", "/nonexistent/cdp.yaml")
	if r.code != ExitError || !strings.Contains(r.stderr, "/nonexistent/cdp.yaml: cannot read") {
		t.Errorf("missing file: exit %d: %s", r.code, r.stderr)
	}
	r = run(t, nil, "config", "validate", "a.yaml", "b.yaml")
	if r.code != ExitUsage {
		t.Errorf("two files: exit %d", r.code)
	}
	// --config is used when no FILE is given.
	r = run(t, nil, "--config", bad, "config", "validate", "--no-env")
	if r.code != ExitError || !strings.Contains(r.stderr, bad) {
		t.Errorf("--config: exit %d: %s", r.code, r.stderr)
	}
}

// validate checks what serve would run, environment included.
func TestConfigValidateEnvironment(t *testing.T) {
	t.Setenv("CDP_API_PORT", "http")
	r := run(t, nil, "config", "validate", examplePath)
	if r.code != ExitError || !strings.Contains(r.stderr, `config: env CDP_API_PORT: api.port: want an integer, got "http"`) {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
	if r := run(t, nil, "config", "validate", "--no-env", examplePath); r.code != ExitOK {
		t.Errorf("--no-env: exit %d: %s", r.code, r.stderr)
	}
	t.Setenv("CDP_API_PORT", "9090")
	if r := run(t, nil, "config", "validate", examplePath); r.code != ExitOK || !strings.Contains(r.stdout, "1 key(s) from CDP_") {
		t.Errorf("env noted: exit %d: %q", r.code, r.stdout)
	}
}

func TestConfigShow(t *testing.T) {
	t.Setenv("CDP_DATABASE_POSTGRES_DSN", "postgres://cdp:hunter2@db:5432/cdp")
	file := writeFile(t, "grid:\n  shards: 32\n")
	r := run(t, nil, "config", "show", "--config", file, "--set", "api.port=9090")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"api.port = 9090", "# flag --set",
		"grid.shards = 32", "# " + file,
		"compute.processing_interval = 0.1s", "# defaults",
		`database.postgres.dsn = "postgres://cdp:%2A%2A%2A%2A%2A@db:5432/cdp"`, "# env CDP_DATABASE_POSTGRES_DSN",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("show lacks %q", want)
		}
	}
	if strings.Contains(r.stdout, "hunter2") {
		t.Error("show printed a password")
	}
	r = run(t, nil, "config", "show", "--json", "--no-env")
	var entries []struct {
		Key    string
		Value  any
		Source string
	}
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil || len(entries) < 60 {
		t.Fatalf("--json: %v (%d entries)", err, len(entries))
	}
}

func TestServe(t *testing.T) {
	rec := &recorder{}
	file := writeFile(t, "api:\n  port: 7000\n  host: 127.0.0.1\n")
	t.Setenv("CDP_GRID_SHARDS", "16")
	r := run(t, rec, "serve", "--config", file, "--simulate", "25", "--port", "7100", "--data-dir", "/tmp/cdp-data", "--log-format", "json")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	c := rec.serveCfg
	if c.API.Port != 7100 || c.API.Host != "127.0.0.1" || c.System.DataDir != "/tmp/cdp-data" || c.Grid.Shards != 16 || c.Logging.Format != "json" {
		t.Errorf("config handed to Serve: api %+v data_dir %q shards %d", c.API, c.System.DataDir, c.Grid.Shards)
	}
	if rec.serveOpts.Simulate != 25 || rec.serveOpts.ConfigFile != file || rec.serveOpts.Logger == nil || rec.serveOpts.Version.ABIMajor != abi.VersionMajor {
		t.Errorf("options: %+v", rec.serveOpts)
	}

	// A bad configuration never reaches the runner.
	rec = &recorder{}
	r = run(t, rec, "serve", "--port", "70000")
	if r.code != ExitError || rec.serveCfg != nil || !strings.Contains(r.stderr, "config: flag --port: api.port: must be in [0, 65535], got 70000") {
		t.Errorf("bad port: exit %d, ran %v: %s", r.code, rec.serveCfg != nil, r.stderr)
	}
	if r := run(t, rec, "serve", "--simulate", "-1"); r.code != ExitUsage {
		t.Errorf("--simulate -1: exit %d", r.code)
	}
	if r := run(t, rec, "serve", "--set", "grid.shards"); r.code != ExitUsage || !strings.Contains(r.stderr, "want key=value") {
		t.Errorf("--set without '=': exit %d: %s", r.code, r.stderr)
	}
}

func TestNoRunner(t *testing.T) {
	for _, args := range [][]string{{"serve"}, {"replay", "tracks.csv"}} {
		r := run(t, nil, args...)
		if r.code != ExitError || !strings.Contains(r.stderr, "Options.Runner is nil") {
			t.Errorf("%v: exit %d: %s", args, r.code, r.stderr)
		}
	}
	if !errors.Is(noRunner{}.Serve(context.Background(), config.Default(), ServeOptions{}), ErrNoRunner) {
		t.Error("not ErrNoRunner")
	}
}

func TestReplay(t *testing.T) {
	rec := &recorder{}
	r := run(t, rec, "replay", "tracks.csv", "--class", "aviation=5nm,1000ft", "--max-distance", "9300", "--speed", "10")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	c, o := rec.replayCfg, rec.replay
	av := c.CollisionDetection.Classes["aviation"]
	if av.Horizontal != 9260 || math.Abs(av.Vertical-304.8) > 1e-9 || c.CollisionDetection.MaxDistance != 9300 {
		t.Errorf("aviation class %+v, max_distance %g", av, c.CollisionDetection.MaxDistance)
	}
	if _, ok := c.CollisionDetection.Classes["default"]; !ok {
		t.Error("default class lost")
	}
	if o.File != "tracks.csv" || o.Class != "aviation" || o.Speed != 10 || !o.OriginFromData || !o.Progress || o.Target != "" {
		t.Errorf("options: %+v", o)
	}

	rec = &recorder{}
	r = run(t, rec, "replay", "t.csv", "--origin", "50.8,-1.3,10ft", "--no-progress", "--target", "http://localhost:8080")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if got := rec.replayCfg.System.Frame.Origin; got.Lat != 50.8 || got.Lon != -1.3 || math.Abs(got.Alt-3.048) > 1e-9 {
		t.Errorf("origin %+v", got)
	}
	if rec.replay.OriginFromData || rec.replay.Progress || rec.replay.Class != "default" || rec.replay.Target != "http://localhost:8080" {
		t.Errorf("options: %+v", rec.replay)
	}
	// --rebase-time plays at real time unless --speed says otherwise.
	for args, want := range map[string]float64{"": 1, "--speed 0": 0, "--speed 20": 20} {
		rec = &recorder{}
		r = run(t, rec, append([]string{"replay", "t.csv", "--target", "http://localhost:8080", "--rebase-time"}, strings.Fields(args)...)...)
		if r.code != ExitOK || !rec.replay.RebaseTime || rec.replay.Speed != want {
			t.Errorf("--rebase-time %s: exit %d, options %+v; want speed %g\n%s", args, r.code, rec.replay, want, r.stderr)
		}
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"replay", "t.csv", "--class", "aviation=5nm,1000ft"}, ExitError,
			"config: flag --class: collision_detection.classes.aviation: protected zone reaches 9265.0 m"},
		{[]string{"replay", "t.csv", "--class", "ship"}, ExitUsage, "--class ship: no such class"},
		{[]string{"replay", "t.csv", "--class", "ship=1,2,3,4"}, ExitUsage, "NAME=HORIZONTAL,VERTICAL[,RADIUS]"},
		{[]string{"replay", "t.csv", "--class", "ship=1nmi,2"}, ExitUsage, "horizontal: want a length"},
		{[]string{"replay", "t.csv", "--class", "Ship=10,10"}, ExitError, "lower-case"},
		{[]string{"replay", "t.csv", "--speed", "-1"}, ExitUsage, "--speed"},
		{[]string{"replay", "t.csv", "--target", "localhost:8080"}, ExitUsage, "--target"},
		{[]string{"replay", "t.csv", "--rebase-time"}, ExitUsage, "--rebase-time shifts a recording for a live server: it needs --target"},
		{[]string{"replay", "t.csv", "--origin", "somewhere"}, ExitUsage, "--origin"},
		{[]string{"replay", "t.csv", "--origin", "95,0"}, ExitError, "config: flag --origin: system.frame.origin.lat: must be in [-90, 90], got 95"},
		{[]string{"replay", "t.csv", "--scorer", "/nonexistent/s.wasm"}, ExitError, "config: flag --scorer: plugins.scorer.path"},
		{[]string{"replay"}, ExitUsage, "accepts 1 arg"},
	} {
		rec := &recorder{}
		r := run(t, rec, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d (want %d), stderr:\n%s\nwant %q", tc.args, r.code, tc.code, r.stderr, tc.want)
		}
		if rec.replayCfg != nil {
			t.Errorf("%v: runner called despite the error", tc.args)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"serv"}, {"serve", "extra"}, {"serve", "--port"}, {"version", "--bogus"}, {"serve", "--port", "x"}} {
		r := run(t, nil, args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, "--help' for usage") {
			t.Errorf("%v: exit %d: %s", args, r.code, r.stderr)
		}
	}
}

func TestParseLength(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
	}{
		{"300", 300}, {"300m", 300}, {"2.5km", 2500}, {"5nm", 9260}, {"1000ft", 304.8}, {" 5 NM ", 9260},
	} {
		got, err := parseLength(tc.in)
		if err != nil || math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("parseLength(%q) = %g, %v; want %g", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "nm", "5 miles", "NaN", "inf"} {
		if _, err := parseLength(bad); err == nil {
			t.Errorf("parseLength(%q) accepted", bad)
		}
	}
}

// Every command a newcomer can run explains itself: a short line, a long
// description and examples. A command added without them fails here.
func TestEveryCommandDocumented(t *testing.T) {
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" {
				continue
			}
			n++
			if sub.Short == "" || sub.Long == "" {
				t.Errorf("%s: missing Short or Long", sub.CommandPath())
			}
			if sub.Runnable() && len(sub.Commands()) == 0 && sub.Example == "" {
				t.Errorf("%s: missing Example", sub.CommandPath())
			}
			for _, flagName := range []string{"config", "set"} {
				if sub.Flag(flagName) == nil {
					t.Errorf("%s: does not inherit --%s", sub.CommandPath(), flagName)
				}
			}
			walk(sub)
		}
	}
	walk(New(Options{}))
	if n < 6 {
		t.Errorf("walked only %d commands", n)
	}
}

// TestPluginTestRefusesNonWasm: `cdp plugin test` on a file that is not a
// Wasm module reports the refusal and exits 1.
func TestPluginTestRefusesNonWasm(t *testing.T) {
	path := filepath.Join(t.TempDir(), "not.wasm")
	if err := os.WriteFile(path, []byte("this is not wasm"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := Execute(context.Background(), []string{"plugin", "test", path}, Options{Stdout: &out, Stderr: &errOut})
	if code != ExitError {
		t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, ExitError, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "refused") || !strings.Contains(out.String(), "FAIL") {
		t.Fatalf("report does not say the module was refused:\n%s", out.String())
	}
}

// serve --role and --node-id set cluster.role and cluster.node_id; a role
// that cannot work is refused before the runner starts, naming the key.
func TestServeRoles(t *testing.T) {
	rec := &recorder{}
	r := run(t, rec, "serve", "--role", "compute", "--node-id", "c-1", "--set", "messaging.kafka.bootstrap_servers=127.0.0.1:9092")
	if r.code != ExitOK || rec.serveCfg == nil || rec.serveCfg.Cluster.Role != "compute" || rec.serveCfg.Cluster.NodeID != "c-1" {
		t.Fatalf("exit %d, cfg %+v: %s", r.code, rec.serveCfg, r.stderr)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--role", "api"}, "cluster.role: api (queries without an engine) is not available yet"},
		{[]string{"serve", "--role", "ingest"}, "ingest needs Kafka: set messaging.kafka.bootstrap_servers"},
		{[]string{"serve", "--role", "worker"}, "cluster.role"},
		{[]string{"serve", "--node-id", "a b"}, "cluster.node_id"},
	} {
		rec := &recorder{}
		r := run(t, rec, tc.args...)
		if r.code != ExitError || rec.serveCfg != nil || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, ran %v: %s", tc.args, r.code, rec.serveCfg != nil, r.stderr)
		}
	}
	if r := run(t, nil, "serve", "--help"); !strings.Contains(r.stdout, "--role") || !strings.Contains(r.stdout, "--node-id") {
		t.Errorf("help does not list --role and --node-id:\n%s", r.stdout)
	}
}
