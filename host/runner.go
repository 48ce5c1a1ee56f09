package host

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/collision-detection-platform/distributed-platform/api"
	"github.com/collision-detection-platform/distributed-platform/host/cli"
	"github.com/collision-detection-platform/distributed-platform/host/config"
)

// Runner implements the long-running commands of cli around a Node.
type Runner struct{}

// Serve runs `cdp serve`.
func (Runner) Serve(ctx context.Context, cfg config.Config, opts cli.ServeOptions) error {
	if r := cfg.Cluster.Role; r == config.RoleIngest || r == config.RoleCompute {
		return serveRole(ctx, cfg, opts)
	}
	n, err := NewNode(cfg, opts.Logger)
	if err != nil {
		return err
	}
	if err := n.StartPlugins(ctx); err != nil {
		n.Close()
		return err
	}
	srv, err := n.API(api.Version{Version: opts.Version.Version, Commit: opts.Version.Commit, Date: opts.Version.Date})
	if err != nil {
		n.Close()
		return err
	}
	addr := net.JoinHostPort(cfg.API.Host, strconv.Itoa(cfg.API.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		n.Close()
		return fmt.Errorf("host: listen on %s (api.host, api.port): %w", addr, err)
	}
	var feed func(context.Context)
	if opts.Simulate > 0 {
		feed, err = n.simulator(opts.Simulate)
		if err != nil {
			ln.Close()
			n.Close()
			return err
		}
	}
	scheme := "http://"
	if cfg.Security.TLS.CertFile != "" {
		scheme = "https://"
	}
	base := scheme + displayAddr(ln.Addr())
	fmt.Fprintf(opts.Stderr, `cdp %s serving on %s
  dashboard:      %s/  (open it in a browser)
  risks now:      curl -s %s/api/v1/risks
  live stream:    curl -sN %s/api/v1/risks/stream
  status:         curl -s %s/system/status
  metrics:        %s/metrics    API doc: %s/openapi.json
`, opts.Version.Version, base, base, base, base, base, base, base)
	if opts.Simulate > 0 {
		fmt.Fprintf(opts.Stderr, "  feeding %d simulated vehicles; risks appear within seconds\n", opts.Simulate)
	}
	n.Logger.Info("serving", "addr", ln.Addr().String(), "simulate", opts.Simulate)
	start := time.Now()
	err = n.Run(ctx, ln, srv, feed)
	s := n.Engine.Stats()
	n.Logger.Info("stopped", "uptime", time.Since(start).Round(time.Millisecond), "updates", s.Applied, "risks_opened", s.Opened)
	return err
}

// serveRole runs `cdp serve --role ingest|compute`.
func serveRole(ctx context.Context, cfg config.Config, opts cli.ServeOptions) error {
	if opts.Simulate > 0 {
		return fmt.Errorf("host: --simulate feeds the engine of cluster.role all; with role %s send the simulated traffic to an ingest node (cdp replay --target)", cfg.Cluster.Role)
	}
	addr := net.JoinHostPort(cfg.API.Host, strconv.Itoa(cfg.API.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("host: listen on %s (api.host, api.port): %w", addr, err)
	}
	fmt.Fprintf(opts.Stderr, "cdp %s serving cluster.role %s as node %s on http://%s\n", opts.Version.Version, cfg.Cluster.Role, NodeID(cfg), displayAddr(ln.Addr()))
	return ServeCluster(ctx, cfg, ln, api.Version{Version: opts.Version.Version, Commit: opts.Version.Commit, Date: opts.Version.Date}, opts.Logger)
}

// displayAddr turns a wildcard listen address into one a user can paste.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

var _ cli.Runner = Runner{}
