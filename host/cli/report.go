package cli

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/collision-detection-platform/distributed-platform/host/config"
)

// newReportCmd: cdp report [--server URL] [--logs FILE|-] [--output FILE]
func newReportCmd(a *app) *cobra.Command {
	var (
		output   string
		logs     string
		logLines int
		nc       = nodeClient{timeout: 10 * time.Second}
	)
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Collect a system report of a node into one archive, for a bug report or support",
		Long: `Write one .tar.gz holding what is needed to understand a node's state:

  version.json    this binary's version, and the node's (/system/version)
  config.txt      the effective configuration with the source of each value,
                  passwords and DSN passwords masked (as 'cdp config show')
  health.txt      /healthz and /readyz answers
  status.json     /system/status
  metrics.txt     a /metrics snapshot
  plugins.json    /admin/plugins, when the admin API answers this client
  logs.txt        the last --log-lines lines of --logs (a file, or - for
                  standard input, e.g. from docker compose logs or kubectl logs)
  errors.txt      what could not be collected, and why

Run it where the node runs, with the same --config and CDP_ environment, so
that config.txt is the node's. A node that does not answer still gets a report
(configuration, logs and the error).`,
		Example: `  cdp report --config /etc/cdp/cdp.yaml
  docker compose exec cdp-api cdp report --output /tmp/report.tar.gz
  kubectl logs deploy/cdp-api --tail 5000 | cdp report --logs - --server http://localhost:8080`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkServer(cmd, nc.server); err != nil {
				return err
			}
			if logLines <= 0 {
				return usagef(cmd, "--log-lines %d: want a number of lines > 0", logLines)
			}
			nc.lookupEnv = a.opts.LookupEnv
			now := time.Now().UTC()
			if output == "" {
				output = "cdp-report-" + now.Format("20060102T150405Z") + ".tar.gz"
			}
			var errs []string
			files := map[string][]byte{}

			// This binary's configuration view: the node's when run beside it.
			var cfgText bytes.Buffer
			if src, err := a.configSources(cmd, "", nil, nil); err != nil {
				errs = append(errs, "config: "+err.Error())
			} else if cfg, prov, err := config.Origins(src); err != nil {
				errs = append(errs, "config: "+err.Error())
				fmt.Fprintf(&cfgText, "# the configuration does not load: %v\n", err)
			} else {
				writeConfig(&cfgText, cfg, prov)
			}
			files["config.txt"] = cfgText.Bytes()

			ver := map[string]any{"cli": a.version}
			get := func(path string) ([]byte, bool) {
				code, body, err := nc.get(cmd.Context(), path)
				switch {
				case err != nil:
					errs = append(errs, fmt.Sprintf("GET %s: %v", path, err))
					return nil, false
				case code != http.StatusOK:
					errs = append(errs, fmt.Sprintf("GET %s: %d %s", path, code, strings.TrimSpace(string(body))))
					return body, false
				}
				return body, true
			}
			var health bytes.Buffer
			for _, p := range []string{"/healthz", "/readyz"} {
				code, body, err := nc.get(cmd.Context(), p)
				if err != nil {
					fmt.Fprintf(&health, "GET %s: %v\n", p, err)
					continue
				}
				fmt.Fprintf(&health, "GET %s: %d %s\n", p, code, strings.TrimSpace(string(body)))
			}
			files["health.txt"] = health.Bytes()
			if b, ok := get("/system/version"); ok {
				ver["node"] = json.RawMessage(b)
			}
			vb, _ := json.MarshalIndent(ver, "", "  ")
			files["version.json"] = append(vb, '\n')
			if b, ok := get("/system/status"); ok {
				files["status.json"] = indentJSON(b)
			}
			if b, ok := get("/metrics"); ok {
				files["metrics.txt"] = b
			}
			if code, b, err := nc.get(cmd.Context(), "/admin/plugins"); err == nil && code == http.StatusOK {
				files["plugins.json"] = indentJSON(b)
			}
			if logs != "" {
				b, err := tailLines(cmd.InOrStdin(), logs, logLines)
				if err != nil {
					errs = append(errs, "logs: "+err.Error())
				}
				files["logs.txt"] = b
			}
			if len(errs) > 0 {
				files["errors.txt"] = []byte(strings.Join(errs, "\n") + "\n")
			}
			if err := writeArchive(output, now, files); err != nil {
				return fmt.Errorf("report: %w", err)
			}
			names := make([]string, 0, len(files))
			for n := range files {
				names = append(names, n)
			}
			sort.Strings(names)
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %s\n", output, strings.Join(names, ", "))
			for _, e := range errs {
				fmt.Fprintf(cmd.ErrOrStderr(), "report: not collected: %s\n", e)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&nc.server, "server", "http://localhost:8080", "base `URL` of the node")
	f.StringVar(&nc.tokenFile, "token-file", "", "`file` holding a bearer token (read role; admin adds plugins.json), for nodes with security.jwt.enabled (default: $CDP_TOKEN)")
	f.StringVarP(&output, "output", "o", "", "archive to write (default cdp-report-<UTC time>.tar.gz)")
	f.StringVar(&logs, "logs", "", "log `file` to include the end of, or - for standard input")
	f.IntVar(&logLines, "log-lines", 5000, "how many of the last log lines to include")
	return cmd
}

// writeConfig writes the configuration as 'cdp config show' does, masked.
func writeConfig(w io.Writer, cfg config.Config, prov map[string]string) {
	flat := config.Flat(cfg)
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%s = %s  # %s\n", k, showValue(k, flat[k]), prov[k])
	}
}

func indentJSON(b []byte) []byte {
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return b
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// tailLines returns the last n lines of the file (or stdin for "-"),
// holding at most n lines in memory whatever the input's size.
func tailLines(stdin io.Reader, name string, n int) ([]byte, error) {
	in := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		in = f
	}
	ring := make([]string, 0, min(n, 4096))
	next := 0
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if len(ring) < n {
			ring = append(ring, sc.Text())
			continue
		}
		ring[next] = sc.Text()
		next = (next + 1) % n
	}
	var out bytes.Buffer
	for i := range ring {
		out.WriteString(ring[(next+i)%len(ring)])
		out.WriteByte('\n')
	}
	return out.Bytes(), sc.Err()
}

// writeArchive writes files into a gzipped tar at path, under a directory
// named after the archive.
func writeArchive(path string, now time.Time, files map[string][]byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	dir := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(path), ".gz"), ".tar")
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b := files[n]
		if err := tw.WriteHeader(&tar.Header{Name: dir + "/" + n, Mode: 0o600, Size: int64(len(b)), ModTime: now}); err != nil {
			f.Close()
			return err
		}
		if _, err := tw.Write(b); err != nil {
			f.Close()
			return err
		}
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
