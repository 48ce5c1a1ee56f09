package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/collision-detection-platform/distributed-platform/api"
	"github.com/collision-detection-platform/distributed-platform/examples"
	"github.com/collision-detection-platform/distributed-platform/host"
	"github.com/collision-detection-platform/distributed-platform/host/config"
	"github.com/collision-detection-platform/distributed-platform/store/postgres/pgtest"
)

const (
	rulesFile     = "prometheus/rules/cdp.rules.yml"
	rulesTestFile = "prometheus/rules/cdp.rules.test.yml"
	dashboardFile = "grafana/dashboards/cdp.json"
)

// tool returns the path of a Prometheus tool; the test fails (not skips)
// without it: .ci/run installs Debian's prometheus package.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed (apt-get install prometheus; .ci/run installs it): %v", name, err)
	}
	return p
}

// The rules are valid for Prometheus.
func TestRulesCheck(t *testing.T) {
	out, err := exec.Command(tool(t, "promtool"), "check", "rules", rulesFile).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}

// The rules do what their unit tests say: each alert fires on the series that
// should raise it, not before its `for`, with the annotations an operator reads.
func TestRulesUnit(t *testing.T) {
	cmd := exec.Command(tool(t, "promtool"), "test", "rules", filepath.Base(rulesTestFile))
	cmd.Dir = filepath.Dir(rulesTestFile)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// metricRef matches the cdp metric names an expression uses (not the
// recording rules' cdp:... names).
var metricRef = regexp.MustCompile(`\bcdp_[a-z0-9_]+`)

// namedMetrics returns every cdp metric the rules and the dashboard name.
func namedMetrics(t *testing.T) map[string][]string {
	t.Helper()
	where := map[string][]string{}
	rules, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range metricRef.FindAllString(string(rules), -1) {
		where[m] = append(where[m], rulesFile)
	}
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, m := range metricRef.FindAllString(tg.Expr, -1) {
				where[m] = append(where[m], dashboardFile+" panel "+p.Title)
			}
		}
	}
	if len(where) < 20 {
		t.Fatalf("only %d metrics named: %v", len(where), where)
	}
	return where
}

// node is a running cdp with everything that exports metrics switched on:
// Kafka (an in-process kfake cluster), a PostgreSQL store, the plugin
// registry with a plugin stored, REST ingest with a rejected record.
type node struct {
	base string
	n    *host.Node
}

func startNode(t *testing.T) *node {
	t.Helper()
	k := config.Default().Messaging.Kafka
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, k.Topics.VehicleLocations,
		k.Topics.CollisionRisks, k.Topics.SystemEvents, k.Topics.DeadLetter))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cfg := config.Default()
	cfg.System.DataDir = t.TempDir()
	cfg.API.Admin.Enabled = true
	// The PostgreSQL store (a database of this test's own) exports cdp_store_*.
	cfg.Database.Postgres.DSN = pgtest.DB(t)
	// The vehicles must outlive a slow machine's Prometheus start.
	cfg.CollisionDetection.VehicleTTL = 10 * time.Minute
	cfg.Messaging.Kafka.BootstrapServers = c.ListenAddrs()
	cfg.Messaging.Kafka.StartOffset = "earliest"
	cfg.Messaging.Kafka.Producer.Linger = time.Millisecond
	n, err := host.NewNode(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := n.StartPlugins(ctx); err != nil {
		t.Fatal(err)
	}
	srv, err := n.API(api.Version{Version: "test", Commit: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx, ln, srv, nil) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("the node did not stop within 30 s")
		}
	})
	nd := &node{base: "http://" + ln.Addr().String(), n: n}

	// Traffic on every path: a plugin, REST (one record refused), Kafka; the
	// vehicles last (building the plugin may take longer than their TTL).
	nd.post(t, "/admin/plugins", "application/wasm", string(examples.Module(t, "go-cpa")), http.StatusCreated)
	now := time.Now().Unix()
	nd.post(t, "/api/v1/locations", "application/json", fmt.Sprintf(`[
		{"id":"a","t":%d,"lat":51.5,"lon":-0.12,"alt":100,"vx":10,"vy":0},
		{"id":"b","t":%d,"lat":51.5,"lon":-0.11914,"alt":100,"vx":-10,"vy":0},
		{"id":"bad","t":%d,"lat":95,"lon":0,"alt":0,"vx":0,"vy":0}]`, now, now, now), http.StatusAccepted)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rec := fmt.Sprintf(`{"id":"k","t":%d,"lat":51.6,"lon":-0.12,"alt":100,"vx":1,"vy":0}`, now)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: k.Topics.VehicleLocations, Value: []byte(rec)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return nd
}

func (nd *node) post(t *testing.T, path, ctype, body string, want int) {
	t.Helper()
	r, err := http.Post(nd.base+path, ctype, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != want {
		t.Fatalf("POST %s: %d, want %d: %s", path, r.StatusCode, want, b)
	}
}

// exported returns the metric names of the node's /metrics: every family
// (# HELP) and every sample name (with _bucket, _sum, _count).
func (nd *node) exported(t *testing.T) map[string]bool {
	t.Helper()
	r, err := http.Get(nd.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	names := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[0] == "#" && f[1] == "HELP" {
			names[f[2]] = true
		} else if l != "" && l[0] != '#' {
			names[strings.FieldsFunc(l, func(r rune) bool { return r == '{' || r == ' ' })[0]] = true
		}
	}
	return names
}

// Every metric a rule or the dashboard names is exported by a running cdp
// (a renamed metric would leave an alert that can never fire). Then the real
// Prometheus scrapes that node with the rules loaded: the target is up, every
// rule evaluates without error, and a recording rule carries the node's value.
func TestMonitoringAgainstRunningNode(t *testing.T) {
	promBin := tool(t, "prometheus")
	named := namedMetrics(t)
	nd := startNode(t)

	t.Run("metrics exist", func(t *testing.T) {
		// Lag appears once the consumer has its partition and fetched.
		var got map[string]bool
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if got = nd.exported(t); got["cdp_kafka_consumer_lag"] && got["cdp_plugin_state"] {
				break
			}
		}
		var missing []string
		for m, where := range named {
			if !got[m] {
				missing = append(missing, fmt.Sprintf("%s (named in %s)", m, strings.Join(where, ", ")))
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("metrics named by rules or dashboard that a running cdp does not export:\n  %s", strings.Join(missing, "\n  "))
		}
	})

	t.Run("prometheus", func(t *testing.T) {
		dir := t.TempDir()
		rulesPath, _ := filepath.Abs(rulesFile)
		addr := strings.TrimPrefix(nd.base, "http://")
		conf := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: cdp
    static_configs:
      - targets: [%q]
`, rulesPath, addr)
		if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		promAddr := ln.Addr().String()
		ln.Close()
		var logs strings.Builder
		cmd := exec.Command(promBin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
			"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+promAddr)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

		query := func(path string, out any) error {
			r, err := http.Get("http://" + promAddr + path)
			if err != nil {
				return err
			}
			defer r.Body.Close()
			return json.NewDecoder(r.Body).Decode(out)
		}
		type rule struct {
			Name      string `json:"name"`
			Health    string `json:"health"`
			LastError string `json:"lastError"`
		}
		var (
			up       bool
			vehicles string
			rules    []rule
		)
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
			var targets struct {
				Data struct {
					ActiveTargets []struct {
						Health    string `json:"health"`
						ScrapeURL string `json:"scrapeUrl"`
					} `json:"activeTargets"`
				} `json:"data"`
			}
			if query("/api/v1/targets", &targets) != nil {
				continue
			}
			for _, tg := range targets.Data.ActiveTargets {
				up = up || tg.Health == "up" && strings.Contains(tg.ScrapeURL, addr)
			}
			var res struct {
				Data struct {
					Result []struct {
						Value [2]any `json:"value"`
					} `json:"result"`
				} `json:"data"`
			}
			if query("/api/v1/query?query=cdp:vehicles", &res) == nil && len(res.Data.Result) == 1 {
				vehicles, _ = res.Data.Result[0].Value[1].(string)
			}
			var rr struct {
				Data struct {
					Groups []struct {
						Rules []rule `json:"rules"`
					} `json:"groups"`
				} `json:"data"`
			}
			rules = rules[:0]
			evaluated := query("/api/v1/rules", &rr) == nil
			for _, g := range rr.Data.Groups {
				for _, r := range g.Rules {
					rules = append(rules, r)
					evaluated = evaluated && r.Health != "unknown"
				}
			}
			if up && vehicles == "3" && evaluated && len(rules) > 0 {
				break
			}
		}
		if !up {
			t.Fatalf("Prometheus does not see the cdp target up\n%s", logs.String())
		}
		// a, b and k: two from REST, one from Kafka.
		if vehicles != "3" {
			t.Errorf("recording rule cdp:vehicles = %q, want 3", vehicles)
		}
		if len(rules) < 20 {
			t.Errorf("Prometheus loaded %d rules", len(rules))
		}
		for _, r := range rules {
			if r.Health != "ok" {
				t.Errorf("rule %s: health %q %s", r.Name, r.Health, r.LastError)
			}
		}
	})
}
