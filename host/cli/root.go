// Package cli is the command tree of the cdp binary (cobra): serve, replay,
// config validate|show, version. It parses flags, loads and validates the
// configuration (host/config) and hands the long-lived work to a Runner that
// the composition root provides, so this package imports no engine code and
// its tests run the whole tree in process.
//
// Adding a command: write newXxxCmd(a *app) *cobra.Command in its own file
// (flags, Args, Example, RunE that returns errors instead of exiting) and add
// it to the list in New. Commands that need the configuration call
// a.loadConfig with their flag-to-key map, so every command layers defaults,
// file, environment, flags and --set the same way.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/collision-detection-platform/distributed-platform/host/config"
)

// Options configure the command tree. The zero value works: the real
// streams, no engine (serve and replay answer ErrNoRunner).
type Options struct {
	// Runner runs serve and replay. Required for serve and replay (nil: ErrNoRunner).
	Runner Runner
	// Stdin, Stdout and Stderr are the streams; nil means the process's.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// LookupEnv reads the environment for CDP_CONFIG and terminal detection.
	// Default os.LookupEnv. (Settings from CDP_ variables are read by
	// host/config.)
	LookupEnv func(string) (string, bool)
	// IsTerminal reports whether w is an interactive terminal (progress bars).
	// Default: a character device check on *os.File.
	IsTerminal func(w io.Writer) bool
}

// app is what every command constructor receives.
type app struct {
	opts    Options
	runner  Runner
	version VersionInfo

	// Persistent flags of the root.
	configFile string
	sets       []string
}

// New returns the root command `cdp` with every subcommand.
func New(opts Options) *cobra.Command {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	if opts.IsTerminal == nil {
		opts.IsTerminal = isTerminal
	}
	a := &app{opts: opts, runner: opts.Runner, version: BuildVersion()}
	if a.runner == nil {
		a.runner = noRunner{}
	}

	root := &cobra.Command{
		Use:   "cdp",
		Short: "Real-time 3D collision detection for drones, aircraft, ships and ground vehicles",
		Long: `cdp takes a stream of vehicle positions and velocities, predicts where each
vehicle will be over the next seconds, finds the pairs that will come too
close, scores the risk and streams risk events.

Configuration comes from, lowest precedence first: built-in defaults, a YAML
file (--config, or $CDP_CONFIG), CDP_ environment variables (api.port is
CDP_API_PORT), command-line flags, and --set key=value. See
deploy/cdp.example.yaml for every key and its default, and check a file with
'cdp config validate'.`,
		Example: `  # Run the server on embedded defaults with 2000 simulated vehicles
  cdp serve --simulate 2000

  # Replay recorded traffic and print risk events as NDJSON
  cdp replay tracks.csv --class aviation=5nm,1000ft --max-distance 9300

  # Check a configuration file
  cdp config validate /etc/cdp.yaml`,
		Version:           a.version.Version,
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: true},
	}
	root.SetVersionTemplate("cdp {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &UsageError{Cmd: c.CommandPath(), Err: err}
	})
	if opts.Stdin != nil {
		root.SetIn(opts.Stdin)
	}
	if opts.Stdout != nil {
		root.SetOut(opts.Stdout)
	}
	if opts.Stderr != nil {
		root.SetErr(opts.Stderr)
	}

	pf := root.PersistentFlags()
	pf.StringVarP(&a.configFile, "config", "c", "", "YAML configuration `file` (default $CDP_CONFIG; none: built-in defaults)")
	pf.StringArrayVar(&a.sets, "set", nil, "set one configuration value as `key=value`, e.g. --set grid.shards=128 (repeatable; overrides file, environment and flags)")

	// cobra adds --help and --version as plain bool flags; defining them
	// first keeps their help lines free of pflag's "[=true|false]".
	var help, showVersion bool
	boolSwitch(pf, &help, "help", "h", "help for any command")
	boolSwitch(root.Flags(), &showVersion, "version", "v", "print the version and exit")

	root.AddCommand(
		newServeCmd(a),
		newReplayCmd(a),
		newConfigCmd(a),
		newVersionCmd(a),
		newPluginCmd(a),
		newKafkaCmd(a),
		newAuditCmd(a),
		newStatusCmd(a),
		newReportCmd(a),
		newDBCmd(a),
	)
	return root
}

// Execute runs the command line args (without the program name) and returns
// the process exit code, printing any error to the error stream.
func Execute(ctx context.Context, args []string, opts Options) int {
	root := New(opts)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	var reported reportedError
	if !errors.As(err, &reported) {
		w := root.ErrOrStderr()
		fmt.Fprintf(w, "cdp: %v\n", err)
		if ExitCode(err) == ExitUsage {
			fmt.Fprintf(w, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
	}
	return ExitCode(err)
}

// usageArgs wraps a cobra positional-argument check so its error is a
// UsageError.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return &UsageError{Cmd: cmd.CommandPath(), Err: err}
		}
		return nil
	}
}

// usagef returns a UsageError for cmd.
func usagef(cmd *cobra.Command, format string, args ...any) error {
	return &UsageError{Cmd: cmd.CommandPath(), Err: fmt.Errorf(format, args...)}
}

// configSources assembles the sources of one command: the file from
// --config, $CDP_CONFIG or fileArg, the environment, the command's own
// flags mapped by flagKeys, then extra overrides, then --set.
func (a *app) configSources(cmd *cobra.Command, fileArg string, flagKeys map[string]string, extra []config.Override) (config.Sources, error) {
	file := a.configFile
	if fileArg != "" {
		file = fileArg
	}
	if file == "" {
		if v, ok := a.opts.LookupEnv(config.EnvConfigFile); ok {
			file = v
		}
	}
	src := config.Sources{File: file, Flags: cmd.Flags(), FlagKeys: flagKeys, Overrides: extra}
	for _, s := range a.sets {
		o, err := config.ParseOverride(s, "flag --set")
		if err != nil {
			return config.Sources{}, &UsageError{Cmd: cmd.CommandPath(), Err: err}
		}
		src.Overrides = append(src.Overrides, o)
	}
	return src, nil
}

// loadConfig loads and validates the configuration for cmd and returns it
// with the file it came from ("" for none).
func (a *app) loadConfig(cmd *cobra.Command, flagKeys map[string]string, extra []config.Override) (config.Config, string, error) {
	src, err := a.configSources(cmd, "", flagKeys, extra)
	if err != nil {
		return config.Config{}, "", err
	}
	cfg, err := config.Load(src)
	return cfg, src.File, err
}

// newLogger builds the process logger from the logging section.
func newLogger(l config.Logging, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(l.Level)) // validated: debug|info|warn|error
	ho := &slog.HandlerOptions{Level: level}
	if l.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}

// isTerminal reports whether w is a character device (an interactive
// terminal), without a dependency: progress bars need nothing finer.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
