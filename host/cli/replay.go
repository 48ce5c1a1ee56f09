package cli

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/collision-detection-platform/distributed-platform/host/config"
)

// replayFlagKeys maps replay's flags to the configuration keys they set.
var replayFlagKeys = map[string]string{
	"predictor":  "plugins.predictor.path",
	"scorer":     "plugins.scorer.path",
	"log-level":  "logging.level",
	"log-format": "logging.format",
}

// newReplayCmd: cdp replay FILE [--speed X] [--target URL] [--class ...] ...
func newReplayCmd(a *app) *cobra.Command {
	var (
		speed       float64
		target      string
		class       string
		origin      string
		maxDistance string
		noProgress  bool
		rebaseTime  bool
	)
	cmd := &cobra.Command{
		Use:   "replay FILE",
		Short: "Run a recorded tracks file through the engine",
		Long: `Replay a recorded tracks file (CSV with the header
id,t,lat,lon,alt_m,vx_mps,vy_mps,vz_mps) through the same engine the server
runs, as fast as possible or at --speed times real time. Risk events go to
standard output as NDJSON; a summary (vehicles, updates, risks opened, wall
time, updates/s) and, on a terminal, a progress bar go to standard error.

--target URL sends the file to a running server instead, and reports the
records the server refused or dropped (stale: older than the vehicle's state
there; late: older than its clock minus collision_detection.vehicle_ttl).
--rebase-time shifts the recording to now so that it can feed a live server:
it plays at real time (or --speed S, each record stamped with the time it is
sent), or with an explicit --speed 0 as fast as possible, shifted so that its
last record is now.

Every vehicle of the file gets one class (--class, default "default"). Give
a class's protected zone on the command line as NAME=HORIZONTAL,VERTICAL[,RADIUS]
with units m (default), km, nm (nautical miles) or ft. The zone must fit
within collision_detection.max_distance (sqrt(h^2 + v^2) <= max_distance),
so raise it with --max-distance for large zones.`,
		Example: `  # Aviation: 5 NM horizontal, 1000 ft vertical separation
  cdp replay opensky.csv --class aviation=5nm,1000ft --max-distance 9300

  # Ships: 0.5 NM around each vessel, at 60x real time; AIS reports come
  # minutes apart, so keep ships for 10 minutes without a report
  cdp replay solent.csv --class ship=0.5nm,50m --max-distance 1000 --speed 60 \
      --set collision_detection.classes.ship.vehicle_ttl=600

  # Score with a Wasm model
  cdp replay tracks.csv --scorer ./my-scorer.wasm

  # Send the file to a running server
  cdp replay tracks.csv --target http://localhost:8080

  # Feed a live server a 2021 recording as if it happened now, 10x real time
  cdp replay tracks.csv --target http://localhost:8080 --rebase-time --speed 10`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if speed < 0 || math.IsNaN(speed) || math.IsInf(speed, 0) {
				return usagef(cmd, "--speed: want a multiple of real time >= 0 (0: as fast as possible), got %v", speed)
			}
			if rebaseTime && target == "" {
				return usagef(cmd, "--rebase-time shifts a recording for a live server: it needs --target")
			}
			if rebaseTime && !cmd.Flags().Changed("speed") {
				speed = 1 // a live server takes the records as they happen
			}
			if target != "" {
				u, err := url.Parse(target)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return usagef(cmd, "--target: want a server URL such as http://localhost:8080, got %q", target)
				}
			}
			var extra []config.Override
			name, zone, err := parseClass(class)
			if err != nil {
				return usagef(cmd, "--class: %v", err)
			}
			extra = append(extra, zone...)
			fromData := false
			switch origin {
			case "auto":
				fromData = true
			case "config":
			default:
				o, err := parseOrigin(origin)
				if err != nil {
					return usagef(cmd, "--origin: %v", err)
				}
				extra = append(extra, o...)
			}
			if maxDistance != "" {
				m, err := parseLength(maxDistance)
				if err != nil {
					return usagef(cmd, "--max-distance: %v", err)
				}
				extra = append(extra, config.Override{Key: "collision_detection.max_distance",
					Value: strconv.FormatFloat(m, 'g', -1, 64), Source: "flag --max-distance"})
			}
			cfg, file, err := a.loadConfig(cmd, replayFlagKeys, extra)
			if err != nil {
				return err
			}
			if _, ok := cfg.CollisionDetection.Classes[name]; !ok {
				return usagef(cmd, "--class %s: no such class in collision_detection.classes; define it, e.g. --class %s=5nm,1000ft", name, name)
			}
			return a.runner.Replay(cmd.Context(), cfg, ReplayOptions{
				File:           args[0],
				ConfigFile:     file,
				Speed:          speed,
				Target:         target,
				RebaseTime:     rebaseTime,
				Class:          name,
				OriginFromData: fromData,
				Progress:       !noProgress && a.opts.IsTerminal(cmd.ErrOrStderr()),
				Logger:         newLogger(cfg.Logging, cmd.ErrOrStderr()),
				Stdout:         cmd.OutOrStdout(),
				Stderr:         cmd.ErrOrStderr(),
				Version:        a.version,
			})
		},
	}
	f := cmd.Flags()
	f.Float64Var(&speed, "speed", 0, "replay at `X` times real time (0: as fast as possible)")
	f.StringVar(&target, "target", "", "send the file to the server at `URL` instead of running an engine")
	f.StringVar(&class, "class", config.DefaultClass, "the `class` of every vehicle: NAME, or NAME=H,V[,R] to define it (e.g. aviation=5nm,1000ft)")
	f.StringVar(&origin, "origin", "auto", "ENU `origin`: auto (from the data), config (system.frame.origin) or LAT,LON[,ALT]")
	f.StringVar(&maxDistance, "max-distance", "", "collision_detection.max_distance, a `length` such as 9300 or 5.1nm")
	boolSwitch(f, &noProgress, "no-progress", "", "no progress bar, even on a terminal")
	boolSwitch(f, &rebaseTime, "rebase-time", "", "with --target: shift the recording's times to now (real time unless --speed is given)")
	f.String("predictor", "", "Wasm predictor `file` (plugins.predictor.path; default: builtin)")
	f.String("scorer", "", "Wasm scorer `file` (plugins.scorer.path; default: builtin)")
	f.String("log-level", "", "`level`: debug, info, warn or error (logging.level; default info)")
	f.String("log-format", "", "log `format`: text or json (logging.format; default text)")
	return cmd
}

// parseClass parses --class: "NAME" selects a configured class;
// "NAME=H,V[,R]" also defines (or redefines) it.
func parseClass(s string) (string, []config.Override, error) {
	name, zone, hasZone := strings.Cut(strings.TrimSpace(s), "=")
	if name == "" {
		return "", nil, fmt.Errorf("want NAME or NAME=HORIZONTAL,VERTICAL[,RADIUS], got %q", s)
	}
	if !hasZone {
		return name, nil, nil
	}
	parts := strings.Split(zone, ",")
	if len(parts) < 2 || len(parts) > 3 {
		return "", nil, fmt.Errorf("want NAME=HORIZONTAL,VERTICAL[,RADIUS], got %q", s)
	}
	fields := []string{"horizontal", "vertical", "radius"}
	out := make([]config.Override, 0, 3)
	for i, p := range parts {
		m, err := parseLength(p)
		if err != nil {
			return "", nil, fmt.Errorf("%s: %v", fields[i], err)
		}
		out = append(out, config.Override{
			Key:    "collision_detection.classes." + name + "." + fields[i],
			Value:  strconv.FormatFloat(m, 'g', -1, 64),
			Source: "flag --class",
		})
	}
	return name, out, nil
}

// parseOrigin parses "LAT,LON[,ALT]" into overrides of system.frame.origin.
func parseOrigin(s string) ([]config.Override, error) {
	parts := strings.Split(s, ",")
	if len(parts) < 2 || len(parts) > 3 {
		return nil, fmt.Errorf("want auto, config or LAT,LON[,ALT], got %q", s)
	}
	keys := []string{"lat", "lon", "alt"}
	out := make([]config.Override, 0, 3)
	for i, p := range parts {
		v := strings.TrimSpace(p)
		if i == 2 {
			m, err := parseLength(v)
			if err != nil {
				return nil, fmt.Errorf("alt: %v", err)
			}
			v = strconv.FormatFloat(m, 'g', -1, 64)
		} else if _, err := strconv.ParseFloat(v, 64); err != nil {
			return nil, fmt.Errorf("%s: want degrees, got %q", keys[i], p)
		}
		out = append(out, config.Override{Key: "system.frame.origin." + keys[i], Value: v, Source: "flag --origin"})
	}
	return out, nil
}

// lengthUnits converts the units an operator thinks in to metres.
var lengthUnits = []struct {
	suffix string
	metres float64
}{
	{"nm", 1852},
	{"km", 1000},
	{"ft", 0.3048},
	{"m", 1},
}

// parseLength parses a length in metres with an optional unit suffix: m,
// km, nm (nautical miles) or ft. "5nm" is 9260.
func parseLength(s string) (float64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	scale := 1.0
	for _, u := range lengthUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, scale = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.metres
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("want a length such as 300, 300m, 2.5km, 5nm or 1000ft, got %q", s)
	}
	return v * scale, nil
}
