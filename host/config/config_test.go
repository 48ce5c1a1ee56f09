package config

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

const examplePath = "../../deploy/cdp.example.yaml"

// TestMain makes the tests hermetic: the tests that read the environment
// set the CDP_ variables they need with t.Setenv.
func TestMain(m *testing.M) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, EnvPrefix) {
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

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default() does not validate:\n%v", err)
	}
}

func TestLoadNothingGivesDefault(t *testing.T) {
	c, err := Load(Sources{NoEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Fatalf("Load with no sources:\n%+v\nwant Default():\n%+v", c, Default())
	}
}

func TestExampleFileEqualsDefault(t *testing.T) {
	c, err := Load(Sources{File: examplePath, NoEnv: true})
	if err != nil {
		t.Fatalf("example config does not load:\n%v", err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Fatalf("deploy/cdp.example.yaml disagrees with Default():\n got %+v\nwant %+v", c, Default())
	}
}

// The example documents every key: a key added to Config and Default but not
// to the example fails here.
func TestExampleListsEveryKey(t *testing.T) {
	raw, err := readFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			key := join(prefix, k)
			n := lookup(key)
			if sub, ok := v.(map[string]any); ok && n != nil && n.kind != kindLeaf {
				walk(key, sub)
				continue
			}
			have[key] = true
		}
	}
	walk("", raw)
	keys := leafKeys(Default())
	if len(keys) < 60 {
		t.Fatalf("leafKeys(Default()) found only %d keys", len(keys))
	}
	for _, k := range keys {
		if !have[k] {
			t.Errorf("deploy/cdp.example.yaml does not document %s", k)
		}
	}
	for k := range have {
		if lookup(k) == nil {
			t.Errorf("deploy/cdp.example.yaml has unknown key %s", k)
		}
	}
}

// Every field's doc comment states its default (CONVENTIONS.md); sections
// (struct-typed fields) are exempt because their fields carry the defaults.
func TestDocCommentsStateDefaults(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "config.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	structs := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if ts, ok := n.(*ast.TypeSpec); ok {
			if _, ok := ts.Type.(*ast.StructType); ok {
				structs[ts.Name.Name] = true
			}
		}
		return true
	})
	checked := 0
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return true
		}
		for _, field := range st.Fields.List {
			if id, ok := field.Type.(*ast.Ident); ok && structs[id.Name] {
				continue
			}
			checked++
			if field.Doc == nil || !strings.Contains(field.Doc.Text(), "Default") {
				t.Errorf("%s.%s: doc comment does not state the default", ts.Name.Name, field.Names[0].Name)
			}
		}
		return false
	})
	if checked < 50 {
		t.Fatalf("checked only %d fields", checked)
	}
}

func TestBadFiles(t *testing.T) {
	tests := []struct {
		name   string
		yaml   string
		key    string // the key the error must name
		reason error
		msg    string // a fragment of the message
	}{
		{"unknown key with suggestion", "grid:\n  min_sise: 5\n", "grid.min_sise", ErrUnknownKey, "did you mean grid.min_size?"},
		{"unknown section", "gird:\n  min_size: 5\n", "gird", ErrUnknownKey, "did you mean grid?"},
		{"unknown key far from any", "api:\n  zzzzzzzzz: 1\n", "api.zzzzzzzzz", ErrUnknownKey, "unknown key"},
		{"wrong type string for int", "api:\n  port: eighty\n", "api.port", ErrWrongType, `want an integer, got string "eighty"`},
		{"cluster role unknown", "cluster:\n  role: worker\n", "cluster.role", ErrOutOfRange, "worker"},
		{"cluster role api not yet", "cluster:\n  role: api\n", "cluster.role", ErrUnsupported, "not available yet"},
		{"compute without kafka", "cluster:\n  role: compute\n", "cluster.role", ErrConflict, "messaging.kafka.bootstrap_servers"},
		{"ingest without kafka", "cluster:\n  role: ingest\n", "cluster.role", ErrConflict, "needs Kafka"},
		{"tile size zero", "cluster:\n  tile_size: 0\n", "cluster.tile_size", ErrOutOfRange, ">= 1"},
		{"hold time negative", "cluster:\n  hold_time: -1\n", "cluster.hold_time", ErrOutOfRange, ">= 0"},
		{"node id with a space", "cluster:\n  node_id: \"node 1\"\n", "cluster.node_id", ErrOutOfRange, "letters, digits"},
		{"quoted number is a string", "api:\n  port: \"8080\"\n", "api.port", ErrWrongType, "want an integer"},
		{"fraction for int", "compute:\n  max_workers: 2.5\n", "compute.max_workers", ErrWrongType, "want an integer, got number 2.5"},
		{"huge integer", "api:\n  max_body_bytes: 18446744073709551615\n", "api.max_body_bytes", ErrWrongType, "integer out of range"},
		{"2^63 as float", "api:\n  max_body_bytes: 9.223372036854775808e18\n", "api.max_body_bytes", ErrWrongType, "integer out of range"},
		{"bool for float", "grid:\n  adjustment_factor: true\n", "grid.adjustment_factor", ErrWrongType, "want a number"},
		{"scalar for section", "grid: 5\n", "grid", ErrWrongType, "want a section"},
		{"scalar for list", "api:\n  cors_origins: https://a.example\n", "api.cors_origins", ErrWrongType, "want a list of strings"},
		{"list item not string", "messaging:\n  kafka:\n    bootstrap_servers: [1]\n", "messaging.kafka.bootstrap_servers", ErrWrongType, "item 0"},
		{"bad duration", "compute:\n  processing_interval: soon\n", "compute.processing_interval", ErrWrongType, "want a duration"},
		{"null int", "api:\n  port:\n", "api.port", ErrWrongType, "no value"},
		{"NaN", "grid:\n  target_occupancy: .nan\n", "grid.target_occupancy", ErrWrongType, "finite"},
		{"out of range negative", "grid:\n  min_size: -5\n", "grid.min_size", ErrOutOfRange, "must be > 0, got -5"},
		{"port too large", "api:\n  port: 70000\n", "api.port", ErrOutOfRange, "must be in [0, 65535], got 70000"},
		{"threshold above 1", "system:\n  throttling_threshold: 1.5\n", "system.throttling_threshold", ErrOutOfRange, "(0, 1]"},
		{"factor 1", "grid:\n  adjustment_factor: 1\n", "grid.adjustment_factor", ErrOutOfRange, "(0, 1)"},
		{"threshold 0", "grid:\n  adjustment_threshold: 0\n", "grid.adjustment_threshold", ErrOutOfRange, "(0, 1]"},
		{"min risk above 1", "collision_detection:\n  min_risk_level: 1.2\n", "collision_detection.min_risk_level", ErrOutOfRange, "[0, 1]"},
		{"zero interval", "compute:\n  processing_interval: 0\n", "compute.processing_interval", ErrOutOfRange, "must be > 0, got 0s"},
		{"frame type", "system:\n  frame:\n    type: utm\n", "system.frame.type", ErrOutOfRange, "enu, ecef"},
		{"latitude", "system:\n  frame:\n    origin:\n      lat: 91\n", "system.frame.origin.lat", ErrOutOfRange, "[-90, 90]"},
		{"log level", "logging:\n  level: verbose\n", "logging.level", ErrOutOfRange, "debug, info, warn, error"},
		{"cidr", "api:\n  admin:\n    allow: [localhost]\n", "api.admin.allow[0]", ErrOutOfRange, "CIDR"},
		{"broker", "messaging:\n  kafka:\n    bootstrap_servers: [kafka]\n", "messaging.kafka.bootstrap_servers[0]", ErrOutOfRange, "host:port"},
		{"initial below min", "grid:\n  initial_size: 5\n", "grid.initial_size", ErrConflict, "grid.min_size .. grid.max_size (10 .. 1000), got 5"},
		{"min above max", "grid:\n  min_size: 2000\n", "grid.min_size", ErrConflict, "must be <= grid.max_size (1000), got 2000"},
		{"hysteresis above min risk", "collision_detection:\n  min_risk_level: 0.1\n  hysteresis: 0.2\n", "collision_detection.hysteresis", ErrConflict, "collision_detection.min_risk_level"},
		{"class beyond max_distance", "collision_detection:\n  classes:\n    aviation: {horizontal: 9260, vertical: 304.8}\n",
			"collision_detection.classes.aviation", ErrConflict, "beyond collision_detection.max_distance 200 m: raise collision_detection.max_distance to at least 9266"},
		{"two classes together beyond max_distance", "collision_detection:\n  max_distance: 300\n  classes:\n    wide: {horizontal: 280, vertical: 20}\n    tall: {horizontal: 20, vertical: 280}\n",
			"collision_detection.classes.wide.horizontal", ErrConflict, "a wide meeting a tall has a protected zone reaching 396.0 m"},
		{"negative resolve_after", "collision_detection:\n  resolve_after: -1\n",
			"collision_detection.resolve_after", ErrOutOfRange, "resolve_after"},
		{"class name", "collision_detection:\n  classes:\n    Big: {horizontal: 10, vertical: 10}\n", "collision_detection.classes.Big", ErrOutOfRange, "lower-case"},
		{"class unknown field", "collision_detection:\n  classes:\n    heli: {horizontal: 10, vertcal: 10}\n", "collision_detection.classes.heli.vertcal", ErrUnknownKey, "did you mean collision_detection.classes.heli.vertical?"},
		{"class zero vertical", "collision_detection:\n  classes:\n    heli: {horizontal: 10}\n", "collision_detection.classes.heli.vertical", ErrOutOfRange, "must be > 0, got 0"},
		{"missing plugin file", "plugins:\n  scorer:\n    path: /nonexistent/scorer.wasm\n", "plugins.scorer.path", ErrOutOfRange, "no such file"},
		{"tls half set", "security:\n  tls:\n    cert_file: " + examplePath + "\n", "security.tls.cert_file", ErrConflict, "set together"},
		{"tls files not a certificate", "security:\n  tls:\n    cert_file: " + examplePath + "\n    key_file: " + examplePath + "\n", "security.tls.cert_file", ErrOutOfRange, "security.tls.cert_file/key_file"},
		{"client CA without TLS", "security:\n  tls:\n    client_ca_file: " + examplePath + "\n", "security.tls.client_ca_file", ErrConflict, "need HTTPS"},
		{"jwt without algorithms", "security:\n  jwt:\n    enabled: true\n    secret_file: " + examplePath + "\n", "security.jwt", ErrOutOfRange, "security.jwt.algorithms: list the algorithms"},
		{"jwt alg none", "security:\n  jwt:\n    enabled: true\n    secret_file: " + examplePath + "\n    algorithms: [none]\n", "security.jwt", ErrOutOfRange, `"none" is not allowed`},
		{"jwt HS256 without a secret", "security:\n  jwt:\n    enabled: true\n    public_key_files: [" + examplePath + "]\n    algorithms: [HS256]\n", "security.jwt", ErrOutOfRange, "no PEM block"},
		{"jwt without a key", "security:\n  jwt:\n    enabled: true\n    algorithms: [RS256]\n", "security.jwt.enabled", ErrConflict, "needs a key"},
		{"jwt keys while disabled", "security:\n  jwt:\n    secret_file: " + examplePath + "\n", "security.jwt.enabled", ErrConflict, "nothing would be authenticated"},
		{"jwt skew", "security:\n  jwt:\n    clock_skew: 600\n", "security.jwt.clock_skew", ErrOutOfRange, "[0, 300]"},
		{"dotted key in a file", "grid.min_size: 5\n", "grid.min_size", ErrUnknownKey, "nest them, grid: min_size: ..."},
		{"too many shards", "grid:\n  shards: 5000\n", "grid.shards", ErrOutOfRange, "[1, 4096]"},
		{"class name too long", "collision_detection:\n  classes:\n    " + strings.Repeat("a", 65) + ": {horizontal: 1, vertical: 1}\n", "collision_detection.classes." + strings.Repeat("a", 65), ErrOutOfRange, "1 to 64"},
		{"plugin config not object", "plugins:\n  scorer:\n    config: [1]\n", "plugins.scorer.config", ErrWrongType, "JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, tc.yaml)
			_, err := Load(Sources{File: path, NoEnv: true})
			if err == nil {
				t.Fatal("Load accepted a bad file")
			}
			if !errors.Is(err, tc.reason) {
				t.Errorf("error is not %v:\n%v", tc.reason, err)
			}
			want := "config: " + path + ": " + tc.key + ": "
			found := false
			for _, fe := range FieldErrors(err) {
				line := fe.Error()
				if strings.HasPrefix(line, want) && strings.Contains(line, tc.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("no error line starting %q containing %q in:\n%v", want, tc.msg, err)
			}
		})
	}
}

// All problems are reported at once, not just the first.
func TestLoadCollectsAllErrors(t *testing.T) {
	path := writeFile(t, "grid:\n  min_size: -5\n  shards: 0\napi:\n  prot: 1\n  port: x\nlogging:\n  format: xml\n")
	_, err := Load(Sources{File: path, NoEnv: true})
	es := FieldErrors(err)
	var keys []string
	for _, e := range es {
		keys = append(keys, e.Key)
	}
	want := []string{"api.port", "api.prot", "grid.min_size", "grid.shards", "logging.format"}
	for _, w := range want {
		if !strings.Contains(strings.Join(keys, " "), w) {
			t.Errorf("missing error for %s; got keys %v", w, keys)
		}
	}
	if len(es) != len(want) {
		t.Errorf("got %d errors, want %d:\n%v", len(es), len(want), err)
	}
}

func TestBadSources(t *testing.T) {
	_, err := Load(Sources{File: "/nonexistent/cdp.yaml", NoEnv: true})
	if !errors.Is(err, ErrSource) || !strings.Contains(err.Error(), "config: /nonexistent/cdp.yaml: cannot read: no such file") {
		t.Errorf("missing file: %v", err)
	}
	path := writeFile(t, "grid:\n  min_size: 5\n min_size: 6\n")
	_, err = Load(Sources{File: path, NoEnv: true})
	if !errors.Is(err, ErrSource) || !strings.Contains(err.Error(), path+": not valid YAML") {
		t.Errorf("bad YAML: %v", err)
	}
	// An empty file and empty sections are fine.
	path = writeFile(t, "# nothing\ngrid:\napi:\n")
	if c, err := Load(Sources{File: path, NoEnv: true}); err != nil || !reflect.DeepEqual(c, Default()) {
		t.Errorf("empty sections: %v", err)
	}
}

func TestEnvOverride(t *testing.T) {
	t.Setenv("CDP_API_PORT", "9090")
	t.Setenv("CDP_GRID_MIN_SIZE", "20")
	t.Setenv("CDP_COMPUTE_PROCESSING_INTERVAL", "250ms")
	t.Setenv("CDP_COLLISION_DETECTION_PREDICTION_TIME", "45")
	t.Setenv("CDP_MESSAGING_KAFKA_BOOTSTRAP_SERVERS", "k1:9092, k2:9092")
	t.Setenv("CDP_API_ADMIN_ENABLED", "true")
	t.Setenv("CDP_COLLISION_DETECTION_CLASSES_DEFAULT_HORIZONTAL", "60")
	t.Setenv("CDP_COLLISION_DETECTION__CLASSES__SMALL_DRONE__HORIZONTAL", "30")
	t.Setenv("CDP_COLLISION_DETECTION__CLASSES__SMALL_DRONE__VERTICAL", "15")
	t.Setenv("CDP_PLUGINS_SCORER_CONFIG", `{"gain": 2}`)
	t.Setenv("CDP_CONFIG", "/ignored/by/load.yaml")
	t.Setenv("CDP_PORT", "tcp://10.0.0.1:8080") // Kubernetes service link
	t.Setenv("CDP_SERVICE_HOST", "10.0.0.1")
	t.Setenv("CDP_TEST_POSTGRES_DSN", "postgres://test")

	c, prov, err := Origins(Sources{})
	if err != nil {
		t.Fatal(err)
	}
	if c.API.Port != 9090 || c.Grid.MinSize != 20 || c.Compute.ProcessingInterval != 250*time.Millisecond ||
		c.CollisionDetection.PredictionTime != 45*time.Second || !c.API.Admin.Enabled {
		t.Errorf("scalars not overridden: %+v %+v %+v", c.API, c.Grid, c.Compute)
	}
	if !reflect.DeepEqual(c.Messaging.Kafka.BootstrapServers, []string{"k1:9092", "k2:9092"}) {
		t.Errorf("list: %q", c.Messaging.Kafka.BootstrapServers)
	}
	wantClasses := map[string]Class{"default": {Horizontal: 60, Vertical: 25}, "small_drone": {Horizontal: 30, Vertical: 15}}
	if !reflect.DeepEqual(c.CollisionDetection.Classes, wantClasses) {
		t.Errorf("classes: %+v", c.CollisionDetection.Classes)
	}
	if c.Plugins.Scorer.Config["gain"] != 2.0 {
		t.Errorf("plugin config: %v", c.Plugins.Scorer.Config)
	}
	if prov["api.port"] != "env CDP_API_PORT" || prov["grid.max_size"] != "defaults" {
		t.Errorf("provenance: api.port=%q grid.max_size=%q", prov["api.port"], prov["grid.max_size"])
	}
}

func TestEnvErrors(t *testing.T) {
	t.Setenv("CDP_API_PROT", "9090")
	t.Setenv("CDP_GRID_MIN_SIZE", "-5")
	t.Setenv("CDP_COMPUTE_MAX_WORKERS", "many")
	t.Setenv("CDP_GRID__NO_SUCH", "1")
	t.Setenv("CDP_COLLISION_DETECTION_CLASSES_HELI_PAD_HORIZONTAL", "10")
	_, err := Load(Sources{})
	for _, want := range []string{
		"config: env CDP_API_PROT: unknown variable (did you mean CDP_API_PORT?)",
		"config: env CDP_GRID_MIN_SIZE: grid.min_size: must be > 0, got -5",
		`config: env CDP_COMPUTE_MAX_WORKERS: compute.max_workers: want an integer, got "many"`,
		"config: env CDP_GRID__NO_SUCH: grid.no_such: unknown key",
		"config: env CDP_COLLISION_DETECTION_CLASSES_HELI_PAD_HORIZONTAL: unknown variable: a name that is not in the defaults needs '__' between levels: CDP_COLLISION_DETECTION__CLASSES__HELI_PAD__HORIZONTAL",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

// No two keys share a short environment name, so CDP_X_Y is unambiguous.
func TestEnvNamesUnique(t *testing.T) {
	seen := map[string]string{}
	for _, k := range leafKeys(Default()) {
		n := EnvName(k)
		if other, dup := seen[n]; dup {
			t.Errorf("%s and %s share %s", k, other, n)
		}
		seen[n] = k
		if got, err := envKey(n); err != nil || got != k {
			t.Errorf("envKey(%s) = %q, %v; want %s", n, got, err, k)
		}
	}
}

func TestPrecedence(t *testing.T) {
	path := writeFile(t, "api:\n  port: 7000\n  host: 127.0.0.1\n")
	newFlags := func(args ...string) *pflag.FlagSet {
		fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		fs.Int("port", 8080, "")
		fs.String("host", "0.0.0.0", "")
		fs.String("interval", "", "")
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return fs
	}
	keys := map[string]string{"port": "api.port", "host": "api.host", "interval": "compute.processing_interval"}
	load := func(fs *pflag.FlagSet, o ...Override) Config {
		t.Helper()
		c, err := Load(Sources{File: path, Flags: fs, FlagKeys: keys, Overrides: o})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	if c := load(newFlags()); c.API.Port != 7000 || c.API.Host != "127.0.0.1" {
		t.Errorf("file over defaults (unset flags keep the file's value): port %d host %q", c.API.Port, c.API.Host)
	}
	t.Setenv("CDP_API_PORT", "7100")
	if c := load(newFlags()); c.API.Port != 7100 || c.API.Host != "127.0.0.1" {
		t.Errorf("env over file: port %d", c.API.Port)
	}
	if c := load(newFlags("--port", "7200", "--interval", "0.5")); c.API.Port != 7200 || c.Compute.ProcessingInterval != 500*time.Millisecond {
		t.Errorf("flag over env: port %d interval %v", c.API.Port, c.Compute.ProcessingInterval)
	}
	if c := load(newFlags("--port", "7200"), Override{Key: "api.port", Value: "7300", Source: "flag --set"}); c.API.Port != 7300 {
		t.Errorf("override over flag: port %d", c.API.Port)
	}
	_, err := Load(Sources{File: path, Flags: newFlags("--port", "-1"), FlagKeys: keys})
	if err == nil || !strings.Contains(err.Error(), "config: flag --port: api.port: must be in [0, 65535], got -1") {
		t.Errorf("flag error names the flag: %v", err)
	}
}

func TestParseOverride(t *testing.T) {
	o, err := ParseOverride("grid.shards=128", "flag --set")
	if err != nil || o != (Override{Key: "grid.shards", Value: "128", Source: "flag --set"}) {
		t.Errorf("got %+v, %v", o, err)
	}
	if _, err := ParseOverride("grid.shards", "flag --set"); err == nil {
		t.Error("accepted an override without '='")
	}
	_, err = Load(Sources{NoEnv: true, Overrides: []Override{o, {Key: "grid.shard", Value: "1", Source: "flag --set"}}})
	if !IsUnknownKey(err) || !strings.Contains(err.Error(), "config: flag --set: grid.shard: unknown key (did you mean grid.shards?)") {
		t.Errorf("unknown override: %v", err)
	}
}

func TestValidateWithoutSource(t *testing.T) {
	c := Default()
	c.Grid.Shards = 0
	err := c.Validate()
	if err == nil || err.Error() != "config: grid.shards: must be in [1, 4096], got 0" {
		t.Errorf("got %v", err)
	}
	// Loading does not alias Default's maps and slices.
	c2 := Default()
	c2.CollisionDetection.Classes["x"] = Class{}
	c2.API.Admin.Allow[0] = "x"
	if _, ok := Default().CollisionDetection.Classes["x"]; ok || Default().API.Admin.Allow[0] == "x" {
		t.Error("Default shares state between calls")
	}
}

// Integers keep every digit (no detour through float64).
func TestLargeIntegerExact(t *testing.T) {
	path := writeFile(t, "api:\n  max_body_bytes: 9007199254740993\n")
	c, err := Load(Sources{File: path, NoEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	if c.API.MaxBodyBytes != 9007199254740993 {
		t.Errorf("got %d", c.API.MaxBodyBytes)
	}
}

func TestPluginConfigObject(t *testing.T) {
	path := writeFile(t, "plugins:\n  scorer:\n    config:\n      gain: 2\n      table: {1: [a, {2: b}]}\n")
	c, err := Load(Sources{File: path, NoEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"gain": 2.0, "table": map[string]any{"1": []any{"a", map[string]any{"2": "b"}}}}
	if !reflect.DeepEqual(c.Plugins.Scorer.Config, want) {
		t.Errorf("got %#v", c.Plugins.Scorer.Config)
	}
	if len(c.Plugins.Predictor.Config) != 0 {
		t.Errorf("predictor config: %v", c.Plugins.Predictor.Config)
	}
}

// FuzzLoad: whatever a file holds, Load neither panics nor returns an error
// that does not name the file; what it accepts validates.
func FuzzLoad(f *testing.F) {
	seed, err := os.ReadFile(examplePath)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(seed))
	f.Add("grid:\n  min_size: -5\n")
	f.Add("collision_detection:\n  classes:\n    x: {horizontal: 1e9, vertical: .nan}\n")
	f.Add("plugins: {scorer: {config: {1: 2}}}\n")
	f.Add("api: [1, 2]\n")
	f.Add("compute: {processing_interval: 1e300}\n")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, content string) {
		path := filepath.Join(dir, "fuzz.yaml")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(Sources{File: path, NoEnv: true})
		if err != nil {
			es := FieldErrors(err)
			if len(es) == 0 {
				t.Fatalf("error without field errors: %v", err)
			}
			for _, e := range es {
				if !strings.Contains(e.Source, path) && e.Source != "defaults" {
					t.Fatalf("error does not name the file: %v", e)
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Load accepted what Validate refuses: %v", err)
		}
	})
}
