package host

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/api"
	"github.com/collision-detection-platform/distributed-platform/host/cli"
	"github.com/collision-detection-platform/distributed-platform/host/config"
)

// startNode runs a node with default settings on a random port.
func startNode(t *testing.T) (base string) {
	t.Helper()
	n, err := NewNode(config.Default(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	base, stop := serveNode(t, n, api.Version{Version: "v9.9.9", Commit: "abc"})
	t.Cleanup(func() { stop() })
	return base
}

// serveNode runs n's API on a random loopback port until stop, which waits
// for the node to drain and returns Run's error (30 s at most).
func serveNode(t *testing.T, n *Node, v api.Version) (base string, stop func() error) {
	t.Helper()
	srv, err := n.API(v)
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
	return "http://" + ln.Addr().String(), func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			return fmt.Errorf("the node did not stop within 30 s")
		}
	}
}

// runCLI runs cdp with args and the environment env.
func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Execute(context.Background(), args, cli.Options{Runner: Runner{}, Stdout: &out, Stderr: &errb,
		Stdin:     strings.NewReader(stdin),
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	return code, out.String(), errb.String()
}

// `cdp status` says which nodes are alive and ready and what they hold, and
// fails when one does not answer; --live --quiet is the image's healthcheck.
func TestStatusCommand(t *testing.T) {
	base := startNode(t)
	now := time.Now().Unix()
	postJSON(t, base+"/api/v1/locations", fmt.Sprintf(`[{"id":"s1","t":%d,"lat":51.5,"lon":-0.12,"alt":100,"vx":1,"vy":0}]`, now))
	waitFor(t, func() bool {
		code, out, _ := runCLI(t, nil, "", "status", "--server", base)
		return code == 0 && strings.Contains(out, " 1 ")
	})

	code, out, errs := runCLI(t, nil, "", "status", "--server", base)
	if code != 0 || !strings.Contains(out, "LIVE") || !strings.Contains(out, "v9.9.9") || !regexpMatch(`yes\s+yes\s+v9\.9\.9\s+1\s+0`, out) {
		t.Fatalf("status: %d\n%s%s", code, out, errs)
	}
	if code, out, _ := runCLI(t, nil, "", "status", "--live", "--quiet", "--server", base); code != 0 || out != "" {
		t.Fatalf("status --live --quiet: %d %q", code, out)
	}
	dead := "http://" + freeAddr(t)
	code, out, _ = runCLI(t, nil, "", "status", "--server", base, "--server", dead, "--timeout", "2s")
	if code != 1 || !strings.Contains(out, dead+": not answering") {
		t.Fatalf("status with a dead node: %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, nil, "", "status", "--json", "--server", base)
	var nodes []cli.NodeStatus
	if code != 0 || json.Unmarshal([]byte(out), &nodes) != nil || len(nodes) != 1 || !nodes[0].Ready || len(nodes[0].Status) == 0 {
		t.Fatalf("status --json: %d %s", code, out)
	}
	if code, _, errs := runCLI(t, nil, "", "status", "--server", "localhost:8080"); code != cli.ExitUsage {
		t.Fatalf("bad --server: %d %s", code, errs)
	}
}

// `cdp report` writes one archive with the version, the configuration with
// secrets masked, health, status, a metrics snapshot and the end of the log;
// a node that does not answer still gets a report saying so.
func TestReportCommand(t *testing.T) {
	base := startNode(t)
	dir := t.TempDir()
	logFile := filepath.Join(dir, "cdp.log")
	var log strings.Builder
	for i := range 100 {
		fmt.Fprintf(&log, "line %d\n", i)
	}
	os.WriteFile(logFile, []byte(log.String()), 0o644)
	t.Setenv("CDP_DATABASE_REDIS_PASSWORD", "hunter2-secret") // config reads the process environment
	out := filepath.Join(dir, "r.tar.gz")
	code, stdout, errs := runCLI(t, nil, "", "report", "--server", base, "--logs", logFile, "--log-lines", "10", "--output", out)
	if code != 0 || !strings.Contains(stdout, "wrote "+out) {
		t.Fatalf("report: %d %s %s", code, stdout, errs)
	}
	files := readArchive(t, out)
	for _, name := range []string{"version.json", "config.txt", "health.txt", "status.json", "metrics.txt", "logs.txt"} {
		if len(files["r/"+name]) == 0 {
			t.Errorf("the report lacks %s (has %v)", name, keys(files))
		}
	}
	if cfg := files["r/config.txt"]; strings.Contains(cfg, "hunter2") || !strings.Contains(cfg, `database.redis.password = "*****"`) {
		t.Errorf("config.txt does not mask the password:\n%s", grepLines(cfg, "password"))
	}
	if l := files["r/logs.txt"]; l != strings.Join([]string{"line 90", "91", "92", "93", "94", "95", "96", "97", "98", "99"}, "\nline ")+"\n" {
		t.Errorf("logs.txt is not the last 10 lines:\n%s", l)
	}
	if !strings.Contains(files["r/metrics.txt"], "cdp_engine_vehicles") || !strings.Contains(files["r/version.json"], "v9.9.9") ||
		!strings.Contains(files["r/health.txt"], "GET /readyz: 200") {
		t.Errorf("report content:\n%s\n%s", files["r/version.json"], files["r/health.txt"])
	}

	// From standard input, against a node that is gone.
	out2 := filepath.Join(dir, "gone.tar.gz")
	code, _, errs = runCLI(t, nil, "a\nb\n", "report", "--server", "http://"+freeAddr(t), "--logs", "-", "--output", out2)
	files = readArchive(t, out2)
	if code != 0 || !strings.Contains(files["gone/errors.txt"], "GET /system/status") || files["gone/logs.txt"] != "a\nb\n" || files["gone/config.txt"] == "" {
		t.Fatalf("report of a node that is gone: %d %s %v", code, errs, files)
	}
}

func readArchive(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[h.Name] = string(b)
	}
}

func postJSON(t *testing.T, url, body string) {
	t.Helper()
	r, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusAccepted {
		t.Fatalf("POST %s: %d", url, r.StatusCode)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

// freeAddr is a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
