package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/api"
	"github.com/collision-detection-platform/distributed-platform/host"
	"github.com/collision-detection-platform/distributed-platform/host/cli"
	"github.com/collision-detection-platform/distributed-platform/host/config"
)

// dockerfile is deploy/Dockerfile as instructions (continuation lines
// joined, comments dropped). No Docker daemon is reachable here, so the image
// is checked by what it says and by running its commands with cdp itself.
func dockerfile(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	cur := ""
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			cur += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		if cur += l; strings.TrimSpace(cur) != "" {
			out = append(out, strings.TrimSpace(cur))
		}
		cur = ""
	}
	return out
}

func instructions(lines []string, op string) []string {
	var out []string
	for _, l := range lines {
		if f := strings.Fields(l); len(f) > 1 && strings.EqualFold(f[0], op) {
			out = append(out, strings.TrimSpace(l[len(f[0]):]))
		}
	}
	return out
}

// The image builds in stages (binary, plugins), ships a static binary on a
// distroless base as a non-root user, keeps every write under a volume, stamps
// version and commit into the variables `cdp version` reads, and sets only
// environment variables that are cdp configuration keys.
func TestDockerfile(t *testing.T) {
	lines := dockerfile(t)
	from := instructions(lines, "FROM")
	if len(from) != 3 || !strings.HasSuffix(from[0], "AS build") || !strings.HasSuffix(from[1], "AS plugins") ||
		!strings.Contains(from[2], "distroless/static") {
		t.Errorf("stages %q: want build, plugins, then a distroless static runtime", from)
	}
	runs := strings.Join(instructions(lines, "RUN"), "\n")
	for _, want := range []string{"CGO_ENABLED=0", "./host/cmd/cdp", "sh examples/plugins.sh /out/plugins",
		"host/cli.version=${VERSION}", "host/cli.commit=${COMMIT}", "host/cli.date=${DATE}"} {
		if !strings.Contains(runs, want) {
			t.Errorf("no RUN says %q", want)
		}
	}
	// The -X targets exist (a wrong one links silently and stamps nothing).
	src, _ := os.ReadFile("../host/cli/version.go")
	for _, v := range []string{"version", "commit", "date"} {
		if !regexp.MustCompile(`(?m)^\s+` + v + `\s+string$`).Match(src) {
			t.Errorf("host/cli has no string variable %s for -X", v)
		}
	}
	for _, arg := range []string{"VERSION", "COMMIT", "DATE"} {
		if !regexp.MustCompile(`(?m)^ARG ` + arg + `\b`).MatchString(strings.Join(lines, "\n")) {
			t.Errorf("no build arg %s", arg)
		}
	}
	if u := instructions(lines, "USER"); len(u) != 1 || strings.HasPrefix(u[0], "0") || strings.HasPrefix(u[0], "root") {
		t.Errorf("USER %q: want a non-root uid", u)
	}
	if v := instructions(lines, "VOLUME"); len(v) != 1 || !strings.Contains(v[0], "/var/lib/cdp") {
		t.Errorf("VOLUME %q: want /var/lib/cdp", v)
	}
	copies := strings.Join(instructions(lines, "COPY"), "\n")
	if !strings.Contains(copies, "/out/plugins/ /usr/local/share/cdp/plugins/") {
		t.Errorf("the example plugins are not shipped under /usr/local/share/cdp/plugins:\n%s", copies)
	}
	for _, f := range []string{"../examples/plugins.sh", "../deploy/cdp.example.yaml", "../go.sum", "../.dockerignore"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("the build needs %s: %v", f, err)
		}
	}
	env := map[string]string{}
	for _, e := range instructions(lines, "ENV") {
		for _, kv := range strings.Fields(e) {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
	}
	if env["CDP_SYSTEM_DATA_DIR"] != "/var/lib/cdp" {
		t.Errorf("system.data_dir is not the volume: %v", env)
	}
	checkEnv(t, "Dockerfile", env)
}

// checkEnv sets the CDP_ variables and checks that cdp takes each one as a
// configuration key (cdp ignores CDP_ variables that name no key).
func checkEnv(t *testing.T, who string, env map[string]string) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	_, prov, err := config.Origins(config.Sources{})
	if err != nil {
		t.Fatalf("%s: cdp refuses its environment: %v", who, err)
	}
	used := map[string]bool{}
	for _, src := range prov {
		used[strings.TrimPrefix(src, "env ")] = true
	}
	for k := range env {
		if !used[k] {
			t.Errorf("%s sets %s, which is no cdp configuration key", who, k)
		}
	}
}

// The image's HEALTHCHECK command, run as cdp: healthy against a running
// node, unhealthy (exit 1) when nothing answers.
func TestDockerfileHealthcheck(t *testing.T) {
	var hc []string
	for _, h := range instructions(dockerfile(t), "HEALTHCHECK") {
		i := strings.Index(h, "CMD ")
		if i < 0 || json.Unmarshal([]byte(h[i+4:]), &hc) != nil || len(hc) < 2 || hc[0] != "/usr/local/bin/cdp" {
			t.Fatalf("HEALTHCHECK %q: want CMD [\"/usr/local/bin/cdp\", ...]", h)
		}
	}
	if hc == nil {
		t.Fatal("no HEALTHCHECK")
	}
	n, err := host.NewNode(config.Default(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := n.API(api.Version{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx, ln, srv, nil) }()
	defer func() { cancel(); <-done }()
	run := func(addr string) (int, string) {
		args := make([]string, len(hc)-1)
		for i, a := range hc[1:] {
			args[i] = strings.Replace(a, "127.0.0.1:8080", addr, 1)
		}
		var out bytes.Buffer
		code := cli.Execute(context.Background(), args, cli.Options{Stdout: &out, Stderr: &out})
		return code, out.String()
	}
	if code, out := run(ln.Addr().String()); code != 0 || out != "" {
		t.Fatalf("healthcheck against a running node: exit %d %q", code, out)
	}
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := dead.Addr().String()
	dead.Close()
	if code, _ := run(addr); code != 1 {
		t.Fatalf("healthcheck with nothing listening: exit %d, want 1", code)
	}
}

// The compose stack's Prometheus configuration is valid for Prometheus, with
// its rule file where compose mounts it.
func TestComposePrometheusConfig(t *testing.T) {
	b, err := os.ReadFile("prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	rules, _ := filepath.Abs(rulesFile)
	conf := strings.ReplaceAll(string(b), "/etc/prometheus/rules/cdp.rules.yml", rules)
	if conf == string(b) {
		t.Fatal("prometheus.yml does not load /etc/prometheus/rules/cdp.rules.yml")
	}
	f := filepath.Join(t.TempDir(), "prometheus.yml")
	os.WriteFile(f, []byte(conf), 0o644)
	if out, err := exec.Command(tool(t, "promtool"), "check", "config", f).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	compose, _ := os.ReadFile("compose.yaml")
	for _, target := range regexp.MustCompile(`"(cdp-[a-z0-9-]+):8080"`).FindAllStringSubmatch(conf, -1) {
		if !regexp.MustCompile(`(?m)^  ` + target[1] + `:$`).Match(compose) {
			t.Errorf("Prometheus scrapes %s, which compose.yaml does not run", target[1])
		}
	}
}

// The failure drill is a valid bash script.
func TestDrillScriptParses(t *testing.T) {
	if out, err := exec.Command("bash", "-n", "drill.sh").CombinedOutput(); err != nil {
		t.Fatalf("bash -n drill.sh: %v\n%s", err, out)
	}
}
