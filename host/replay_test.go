package host

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/host/cli"
	"github.com/collision-detection-platform/distributed-platform/host/config"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
)

func dataFile(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join("..", "examples", "data", rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("recorded traffic: %v", err)
	}
	return p
}

// replayFile runs a recording through `cdp replay`'s code path with one class
// for every vehicle and returns the events it printed.
func replayFile(t *testing.T, rel, class string, spec config.Class, maxDist float64) ([]engine.Event, ReplaySummary) {
	t.Helper()
	return replayFileWith(t, rel, class, spec, maxDist, "")
}

// replayFileWith is replayFile with a Wasm scorer when scorer is not "".
func replayFileWith(t *testing.T, rel, class string, spec config.Class, maxDist float64, scorer string) ([]engine.Event, ReplaySummary) {
	t.Helper()
	cfg := config.Default()
	cfg.Plugins.Scorer.Path = scorer
	if class == "ship" {
		// AIS reports come minutes apart for slow and moored ships.
		cfg.CollisionDetection.VehicleTTL = 10 * time.Minute
	}
	cfg.CollisionDetection.Classes[class] = spec
	cfg.CollisionDetection.MaxDistance = maxDist
	path := dataFile(t, rel)
	lat, lon, err := firstPosition(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.System.Frame.Origin = config.Origin{Lat: lat, Lon: lon}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	sum, err := ReplayStream(context.Background(), cfg, f, cli.ReplayOptions{Class: class}, &out)
	if err != nil {
		t.Fatal(err)
	}
	var evs []engine.Event
	dec := json.NewDecoder(&out)
	for dec.More() {
		var ev engine.Event
		if err := dec.Decode(&ev); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	if len(evs) != sum.Events {
		t.Fatalf("printed %d events, summary says %d", len(evs), sum.Events)
	}
	return evs, sum
}

func openedPairs(evs []engine.Event) map[[2]string]engine.Event {
	m := map[[2]string]engine.Event{}
	for _, ev := range evs {
		if ev.Type != engine.EventOpened {
			continue
		}
		k := [2]string{ev.VehicleA, ev.VehicleB}
		if k[1] < k[0] {
			k[0], k[1] = k[1], k[0]
		}
		if _, ok := m[k]; !ok {
			m[k] = ev
		}
	}
	return m
}

// TestReplayOpenSkyReportsFormation: with an aviation class (5 NM, 1000 ft)
// the formation pair AMBER1/AMBER2 (4009cc/4009d2) is reported.
func TestReplayOpenSkyReportsFormation(t *testing.T) {
	evs, sum := replayFile(t, "opensky-uk-2021-07-12/tracks.csv", "aviation",
		config.Class{Horizontal: 9260, Vertical: 304.8}, 9300)
	if sum.Records != 16778 || sum.Rejected != 0 || sum.Vehicles != 190 {
		t.Fatalf("summary %+v: want 16778 records of 190 aircraft, none rejected", sum)
	}
	pairs := openedPairs(evs)
	ev, ok := pairs[[2]string{"4009cc", "4009d2"}]
	if !ok {
		t.Fatalf("AMBER1/AMBER2 (4009cc/4009d2) not reported; %d pairs opened", len(pairs))
	}
	if ev.Risk < 0.5 {
		t.Fatalf("formation pair opened at risk %.2f, want a predicted loss of separation (>= 0.5)", ev.Risk)
	}
	t.Logf("%d pairs reported, %d events; formation pair opened at %+v", len(pairs), len(evs), ev)
}

// TestReplaySolentReportsClosePasses: with a ship class the close passes of
// the Solent recording are reported (the README of the data counts 42 pairs of
// moving ships within 200 m, the closest 10-30 m apart).
func TestReplaySolentReportsClosePasses(t *testing.T) {
	evs, sum := replayFile(t, "solent-ais-2016-01-12/tracks.csv", "ship",
		config.Class{Horizontal: 200, Vertical: 50}, 250)
	if sum.Records != 18619 || sum.Rejected != 0 {
		t.Fatalf("summary %+v: want 18619 records, none rejected", sum)
	}
	pairs := openedPairs(evs)
	if len(pairs) < 20 {
		t.Fatalf("only %d ship pairs reported", len(pairs))
	}
	close := 0
	for _, ev := range evs {
		if ev.DMin < 50 {
			close++
		}
	}
	if close == 0 {
		t.Fatal("no event predicts a pass closer than 50 m")
	}
	t.Logf("%d ship pairs reported, %d events predict a pass under 50 m", len(pairs), close)
}

// TestOriginAutoNamesMalformedRows: `--origin auto` on a file whose rows are
// all malformed says which row is wrong, not merely "no position".
func TestOriginAutoNamesMalformedRows(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.csv")
	if err := os.WriteFile(p, []byte("id,t,lat,lon,alt_m,vx_mps,vy_mps,vz_mps\na,xx,1,2,3,4,5,6\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := firstPosition(p)
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "column t") {
		t.Fatalf("error %v: want the malformed row named", err)
	}
}

// Ctrl-C during `cdp replay` prints what was replayed so far and exits 130;
// the progress bar stays where it stopped instead of jumping to 100 %.
func TestReplayInterrupted(t *testing.T) {
	file := dataFile(t, "solent-ais-2016-01-12/tracks.csv")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(700*time.Millisecond, cancel)
	var out, errb bytes.Buffer
	// At real time the recording lasts hours: the interruption comes first.
	code := cli.Execute(ctx, []string{"replay", file, "--speed", "1", "--class", "ship=0.5nm,50m", "--max-distance", "1000"},
		cli.Options{Runner: Runner{}, Stdout: &out, Stderr: &errb, LookupEnv: func(string) (string, bool) { return "", false },
			IsTerminal: func(io.Writer) bool { return true }})
	stderr := errb.String()
	if code != cli.ExitInterrupted {
		t.Fatalf("exit %d, want %d\n%s", code, cli.ExitInterrupted, stderr)
	}
	if !strings.Contains(stderr, "replay interrupted: ") || !strings.Contains(stderr, "cdp: replay: interrupted after ") {
		t.Fatalf("no partial summary:\n%s", stderr)
	}
	if !strings.Contains(stderr, "replaying") || strings.Contains(stderr, "100%") {
		t.Fatalf("progress bar: want it drawn and stopped short of 100 %%:\n%s", stderr)
	}
}
