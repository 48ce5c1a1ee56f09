package cli

import (
	"github.com/spf13/cobra"
)

// serveFlagKeys maps serve's flags to the configuration keys they set. A flag
// overrides the file and the environment only when given.
var serveFlagKeys = map[string]string{
	"host":       "api.host",
	"port":       "api.port",
	"data-dir":   "system.data_dir",
	"log-level":  "logging.level",
	"log-format": "logging.format",
	"predictor":  "plugins.predictor.path",
	"scorer":     "plugins.scorer.path",
	"role":       "cluster.role",
	"node-id":    "cluster.node_id",
}

// newServeCmd: cdp serve [--simulate N] [--port P] [--data-dir DIR] ...
func newServeCmd(a *app) *cobra.Command {
	var simulate int
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the collision-detection server",
		Long: `Run the server: REST ingest and queries, the live risk stream, metrics and
health endpoints, and the detection engine.

With no database, Redis or Kafka configured, cdp runs whole in one process.
Without --data-dir (system.data_dir) everything is in memory: the last
100,000 risk events, no vehicle tracks, and nothing survives a restart.
With --data-dir DIR:
  DIR/plugins/     uploaded plugins, their activation history and counters
  DIR/history.db   every risk event (opened, updated, resolved), vehicle
                   tracks (one location per vehicle per
                   database.location_interval, default 10s), and the live
                   vehicles and open risks (saved every
                   database.snapshot_interval, default 10s, and at a clean
                   stop), kept for database.retention_days (default 30).
A kill -9 loses at most the last 200 ms of risk events and the vehicle and
open-risk changes since the last snapshot.

--simulate N feeds N simulated vehicles (drones and aircraft on crossing,
head-on, overtaking and stacked-altitude routes) so that risks appear within
seconds.

Stop it with Ctrl-C (SIGINT) or SIGTERM: accepted work is drained first.`,
		Example: `  # Embedded defaults, simulated traffic, API on :8080
  cdp serve --simulate 2000

  # A configuration file, with the port overridden
  cdp serve --config /etc/cdp.yaml --port 9090

  # Keep plugins, risk history, tracks and open risks across restarts
  cdp serve --data-dir /var/lib/cdp

  # Scale out on Kafka: one ingest node, compute nodes sharing the tiles
  cdp serve --role ingest --set messaging.kafka.bootstrap_servers=kafka:9092
  cdp serve --role compute --node-id c1 --port 8081 --set messaging.kafka.bootstrap_servers=kafka:9092`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if simulate < 0 {
				return usagef(cmd, "--simulate: want a number of vehicles >= 0, got %d", simulate)
			}
			cfg, file, err := a.loadConfig(cmd, serveFlagKeys, nil)
			if err != nil {
				return err
			}
			return a.runner.Serve(cmd.Context(), cfg, ServeOptions{
				Simulate:   simulate,
				ConfigFile: file,
				Logger:     newLogger(cfg.Logging, cmd.ErrOrStderr()),
				Stdout:     cmd.OutOrStdout(),
				Stderr:     cmd.ErrOrStderr(),
				Version:    a.version,
			})
		},
	}
	f := cmd.Flags()
	f.IntVar(&simulate, "simulate", 0, "feed `N` simulated vehicles (0: none)")
	f.String("host", "", "listen `address` (api.host; default 0.0.0.0)")
	f.Int("port", 0, "listen `port` (api.port; default 8080)")
	f.String("data-dir", "", "keep plugins, risk history, tracks and open risks in `dir` (system.data_dir; default: memory only)")
	f.String("log-level", "", "`level`: debug, info, warn or error (logging.level; default info)")
	f.String("log-format", "", "log `format`: text or json (logging.format; default text)")
	f.String("predictor", "", "Wasm predictor `file` (plugins.predictor.path; default: builtin)")
	f.String("scorer", "", "Wasm scorer `file` (plugins.scorer.path; default: builtin)")
	f.String("role", "", "`role`: all, ingest (REST -> Kafka by tile) or compute (detects its tiles' pairs) (cluster.role; default all)")
	f.String("node-id", "", "this node's `name` in the cluster (cluster.node_id; default system.name)")
	return cmd
}
