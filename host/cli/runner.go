package cli

import (
	"context"
	"io"
	"log/slog"

	"github.com/collision-detection-platform/distributed-platform/host/config"
)

// Runner runs the long-lived commands. The command line parses flags, loads
// and validates the configuration, and hands the result to the Runner; the
// composition root (host) implements it around host/engine and api, and
// main passes it in Options. A nil Runner answers ErrNoRunner.
type Runner interface {
	// Serve runs the server until ctx is cancelled (SIGINT/SIGTERM), then
	// drains and returns. cfg is valid.
	Serve(ctx context.Context, cfg config.Config, opts ServeOptions) error
	// Replay runs a recorded tracks file through the engine (or sends it to
	// opts.Target) and returns when the file is done or ctx is cancelled.
	// cfg is valid and, when opts.Class is set, defines that class.
	Replay(ctx context.Context, cfg config.Config, opts ReplayOptions) error
}

// ServeOptions are the run options of `cdp serve` that are not settings.
type ServeOptions struct {
	// Simulate is the number of simulated vehicles to feed; 0 feeds none.
	// Default 0.
	Simulate int
	// ConfigFile is the YAML file cfg was loaded from ("" for none), for the
	// start-up log.
	ConfigFile string
	// Logger is built from cfg.Logging and writes to Stderr.
	Logger *slog.Logger
	// Stdout and Stderr are the command's streams.
	Stdout, Stderr io.Writer
	// Version describes this binary (for /system/version).
	Version VersionInfo
}

// ReplayOptions are the run options of `cdp replay`.
type ReplayOptions struct {
	// File is the tracks CSV (header id,t,lat,lon,alt_m,vx_mps,vy_mps,vz_mps).
	File string
	// ConfigFile is the YAML file cfg was loaded from ("" for none).
	ConfigFile string
	// Speed is the replay rate as a multiple of real time; 0 replays as fast
	// as possible. Default 0.
	Speed float64
	// Target is the base URL of a running server to send the file to instead
	// of running an engine in process; "" runs in process. Default "".
	Target string
	// RebaseTime shifts every record's time so that the recording plays as
	// if it were happening now (with Target: a live server judges times
	// against its clock). With Speed > 0 each record is stamped with the
	// wall time it is sent at; with Speed 0 the recording is shifted so that
	// its last record is now. Default false.
	RebaseTime bool
	// Class is the vehicle class given to every vehicle of the file; it
	// exists in cfg.CollisionDetection.Classes. Default "default".
	Class string
	// OriginFromData asks the runner to place the ENU origin at the file's
	// data (first record or centroid) instead of cfg.System.Frame.Origin.
	// Default true (--origin auto).
	OriginFromData bool
	// Progress asks for a progress bar on Stderr (set when Stderr is a
	// terminal and --no-progress is not given).
	Progress bool
	// Logger is built from cfg.Logging and writes to Stderr.
	Logger *slog.Logger
	// Stdout receives the risk events as NDJSON; Stderr the summary.
	Stdout, Stderr io.Writer
	// Version describes this binary.
	Version VersionInfo
}

// noRunner stands in for a missing Options.Runner: serve and replay fail
// with ErrNoRunner; every other command works.
type noRunner struct{}

func (noRunner) Serve(context.Context, config.Config, ServeOptions) error { return ErrNoRunner }

func (noRunner) Replay(context.Context, config.Config, ReplayOptions) error { return ErrNoRunner }

var _ Runner = noRunner{}
