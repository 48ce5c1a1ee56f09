package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// nodeClient reads a running node's HTTP endpoints (status, report).
type nodeClient struct {
	adminClient
	timeout time.Duration
}

// get fetches path and returns the status code and body; err is a transport
// failure (the node does not answer).
func (c *nodeClient) get(ctx context.Context, path string) (int, []byte, error) {
	base := strings.TrimRight(c.server, "/")
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	tok, err := c.token()
	if err != nil {
		return 0, nil, err
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return resp.StatusCode, b, err
}

// checkServer validates a --server value.
func checkServer(cmd *cobra.Command, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef(cmd, "--server %q: want a URL such as http://localhost:8080", s)
	}
	return nil
}

// NodeStatus is what `cdp status` reports about one node.
type NodeStatus struct {
	Server  string `json:"server"`
	Live    bool   `json:"live"`
	Ready   bool   `json:"ready"`
	Problem string `json:"problem,omitempty"` // why not live or not ready
	Version string `json:"version,omitempty"`
	// Status is the node's GET /system/status answer ("" when refused).
	Status json.RawMessage `json:"status,omitempty"`
}

// probe reads one node: /healthz, /readyz, /system/version and, unless live
// only, /system/status.
func (c *nodeClient) probe(ctx context.Context, liveOnly bool) NodeStatus {
	ns := NodeStatus{Server: c.server}
	code, body, err := c.get(ctx, "/healthz")
	if err != nil {
		ns.Problem = "not answering: " + err.Error()
		return ns
	}
	if ns.Live = code == http.StatusOK; !ns.Live {
		ns.Problem = fmt.Sprintf("/healthz answered %d: %s", code, strings.TrimSpace(string(body)))
		return ns
	}
	if liveOnly {
		return ns
	}
	if code, body, err = c.get(ctx, "/readyz"); err == nil {
		if ns.Ready = code == http.StatusOK; !ns.Ready {
			var p struct {
				Error string `json:"error"`
			}
			if json.Unmarshal(body, &p) != nil || p.Error == "" {
				p.Error = strings.TrimSpace(string(body))
			}
			ns.Problem = fmt.Sprintf("not ready (%d): %s", code, p.Error)
		}
	}
	if code, body, err = c.get(ctx, "/system/version"); err == nil && code == http.StatusOK {
		var v struct {
			Version string `json:"version"`
			Commit  string `json:"commit"`
		}
		if json.Unmarshal(body, &v) == nil {
			ns.Version = v.Version
		}
	}
	if code, body, err = c.get(ctx, "/system/status"); err == nil && code == http.StatusOK && json.Valid(body) {
		ns.Status = body
	}
	return ns
}

// statusSummary is the part of /system/status the table shows.
type statusSummary struct {
	Vehicles  int `json:"vehicles"`
	OpenRisks int `json:"open_risks"`
	Rates     struct {
		Ingest  float64 `json:"ingest_per_s"`
		Applied float64 `json:"applied_per_s"`
	} `json:"rates"`
	LastTickMS float64 `json:"last_tick_ms"`
	Models     struct {
		Predictor struct{ Name, Version string } `json:"predictor"`
		Scorer    struct{ Name, Version string } `json:"scorer"`
	} `json:"models"`
	Messaging *struct {
		Connected bool `json:"connected"`
		Lag       []struct {
			Lag int64 `json:"lag"`
		} `json:"lag"`
	} `json:"messaging"`
}

// newStatusCmd: cdp status [--server URL]... [--json] [--live]
func newStatusCmd(a *app) *cobra.Command {
	var (
		servers  []string
		asJSON   bool
		liveOnly bool
		ready    bool
		quiet    bool
		nc       = nodeClient{timeout: 5 * time.Second}
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show whether cdp nodes are alive and ready, and what they are doing",
		Long: `Ask each node (--server, repeatable) for /healthz, /readyz, its version and
/system/status, and print one line per node: live, ready, version, vehicles,
open risks, ingest rate, last tick, models and Kafka state, then the reason of
every node that is not ready.

Exits 1 when a node does not answer or is not alive; with --ready also when
one is not ready. --live checks /healthz alone, quietly with --quiet: that is
the container image's HEALTHCHECK.

Every cdp process today is a complete node; list each of them to see the
cluster.`,
		Example: `  cdp status
  cdp status --server http://cdp-api:8080 --server http://cdp-compute-1:8080 --ready
  cdp status --live --quiet          # exit status only
  cdp status --json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(servers) == 0 {
				servers = []string{"http://localhost:8080"}
			}
			for _, s := range servers {
				if err := checkServer(cmd, s); err != nil {
					return err
				}
			}
			nc.lookupEnv = a.opts.LookupEnv
			var all []NodeStatus
			bad := 0
			for _, s := range servers {
				c := nc
				c.server = s
				ns := c.probe(cmd.Context(), liveOnly)
				if !ns.Live || (ready && !ns.Ready) {
					bad++
				}
				all = append(all, ns)
			}
			w := cmd.OutOrStdout()
			switch {
			case quiet:
			case asJSON:
				if err := printJSON(w, all); err != nil {
					return err
				}
			default:
				writeStatusTable(w, all, liveOnly)
			}
			if bad > 0 {
				return reportedError{fmt.Errorf("status: %d of %d nodes not %s", bad, len(all), map[bool]string{true: "ready", false: "alive"}[ready])}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&servers, "server", nil, "base `URL` of a node (repeatable; default http://localhost:8080)")
	f.StringVar(&nc.tokenFile, "token-file", "", "`file` holding a bearer token with the read role, for nodes with security.jwt.enabled (default: $CDP_TOKEN)")
	f.DurationVar(&nc.timeout, "timeout", 5*time.Second, "time allowed for each request")
	boolSwitch(f, &asJSON, "json", "", "print a JSON array, one object per node, with its whole /system/status")
	boolSwitch(f, &liveOnly, "live", "", "check /healthz only")
	boolSwitch(f, &ready, "ready", "", "exit 1 also when a node is alive but not ready")
	boolSwitch(f, &quiet, "quiet", "q", "print nothing; the exit status says it all")
	return cmd
}

func writeStatusTable(out io.Writer, all []NodeStatus, liveOnly bool) {
	w := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	yes := map[bool]string{true: "yes", false: "NO"}
	if liveOnly {
		fmt.Fprintln(w, "SERVER\tLIVE")
		for _, ns := range all {
			fmt.Fprintf(w, "%s\t%s\n", ns.Server, yes[ns.Live])
		}
	} else {
		fmt.Fprintln(w, "SERVER\tLIVE\tREADY\tVERSION\tVEHICLES\tOPEN RISKS\tINGEST/S\tLAST TICK\tSCORER\tKAFKA")
		for _, ns := range all {
			var s statusSummary
			_ = json.Unmarshal(ns.Status, &s)
			kafka := "-"
			if m := s.Messaging; m != nil {
				var lag int64
				for _, l := range m.Lag {
					lag += l.Lag
				}
				kafka = fmt.Sprintf("connected, lag %d", lag)
				if !m.Connected {
					kafka = "DISCONNECTED"
				}
			}
			if ns.Status == nil {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t-\t-\t-\t-\t-\t-\n", ns.Server, yes[ns.Live], yes[ns.Ready], orDash(ns.Version))
				continue
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\t%.0f\t%.1f ms\t%s %s\t%s\n", ns.Server, yes[ns.Live], yes[ns.Ready],
				orDash(ns.Version), s.Vehicles, s.OpenRisks, s.Rates.Ingest, s.LastTickMS, s.Models.Scorer.Name, s.Models.Scorer.Version, kafka)
		}
	}
	w.Flush()
	for _, ns := range all {
		if ns.Problem != "" {
			fmt.Fprintf(out, "%s: %s\n", ns.Server, ns.Problem)
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
