package host

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/api"
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

// TestReplaySolentShipTTL: the Solent recording replayed with the ship
// settings of `cdp replay --help` (a 0.5 NM zone, ships kept 10 minutes
// without a report) opens each close pair once per encounter: a risk
// resolves as "lost" only when a ship has gone silent for good (never while
// both still report, which reopened moored pairs every few minutes), and one
// resolves as "separated" only once the ships are predicted apart, so a pair
// opens again only for a new approach.
func TestReplaySolentShipTTL(t *testing.T) {
	file := dataFile(t, "solent-ais-2016-01-12/tracks.csv")
	var out, errb bytes.Buffer
	code := cli.Execute(context.Background(), []string{"replay", file, "--class", "ship=0.5nm,50m", "--max-distance", "1000",
		"--set", "collision_detection.classes.ship.vehicle_ttl=600"},
		cli.Options{Runner: Runner{}, Stdout: &out, Stderr: &errb, LookupEnv: func(string) (string, bool) { return "", false }})
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
	reports := map[string][]float64{} // in time order
	for _, r := range readCSVTimes(t, file) {
		reports[r.id] = append(reports[r.id], r.t)
	}
	// reported says whether the ship reported in (from, to].
	reported := func(id string, from, to float64) bool {
		for _, x := range reports[id] {
			if x > from && x <= to {
				return true
			}
		}
		return false
	}
	clock := 0.0     // the newest assessment seen: about the engine clock
	const zone = 926 // 0.5 NM
	opened := map[[2]string]int{}
	lost, separated := 0, 0
	dec := json.NewDecoder(&out)
	for dec.More() {
		var ev engine.Event
		if err := dec.Decode(&ev); err != nil {
			t.Fatal(err)
		}
		k := [2]string{ev.VehicleA, ev.VehicleB}
		clock = max(clock, ev.Time)
		switch {
		case ev.Type == engine.EventOpened:
			opened[k]++
		case ev.Type == engine.EventResolved && ev.Reason == engine.ReasonLost:
			lost++
			// One of them must have been silent for the 10 minutes before
			// (less a minute for the clock running ahead of the events).
			if reported(ev.VehicleA, clock-540, clock) && reported(ev.VehicleB, clock-540, clock) {
				t.Errorf("%s/%s resolved as lost at about %.0f, but both reported in the 9 minutes before",
					ev.VehicleA, ev.VehicleB, clock)
			}
		case ev.Type == engine.EventResolved:
			separated++
			if ev.DMin < zone {
				t.Errorf("%s/%s resolved as separated at %.0f with a predicted pass at %.0f m, inside the zone",
					ev.VehicleA, ev.VehicleB, ev.Time, ev.DMin)
			}
		}
	}
	if len(opened) < 20 {
		t.Fatalf("only %d pairs opened", len(opened))
	}
	t.Logf("%d pairs opened, %d separated, %d lost (ships gone silent)", len(opened), separated, lost)
}

type csvTime struct {
	id string
	t  float64
}

// readCSVTimes reads the id and t columns of a recording.
func readCSVTimes(t *testing.T, path string) []csvTime {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []csvTime
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if i == 0 {
			continue
		}
		f := strings.SplitN(line, ",", 3)
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		rows = append(rows, csvTime{f[0], v})
	}
	return rows
}

// TestReplayTargetReportsLateAndRebases feeds recorded traffic to a live
// server as `cdp replay --target` does: a 2021 recording sent as it is to a
// server whose clock is now is refused record by record as "late", and the
// replay says so; with --rebase-time it is accepted, shifted to now (as fast
// as possible, ending now; or paced, each record stamped when it is sent).
func TestReplayTargetReportsLateAndRebases(t *testing.T) {
	file := dataFile(t, "opensky-uk-2021-07-12/tracks.csv")
	cfg := config.Default()
	n, err := NewNode(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
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
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx, ln, srv, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	replay := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		code := cli.Execute(ctx, append([]string{"replay", file, "--target", base, "--no-progress"}, args...),
			cli.Options{Runner: Runner{}, Stdout: &out, Stderr: &errb, LookupEnv: func(string) (string, bool) { return "", false }})
		if code != cli.ExitOK {
			t.Fatalf("replay %v: exit %d\n%s", args, code, errb.String())
		}
		return errb.String()
	}
	var sent, accepted, rejected int
	summary := func(stderr string) {
		t.Helper()
		i := strings.Index(stderr, "replay: sent ")
		if i < 0 {
			t.Fatalf("no summary:\n%s", stderr)
		}
		if _, err := fmt.Sscanf(stderr[i:], "replay: sent %d records to "+base+"/api/v1/locations: %d accepted, %d rejected",
			&sent, &accepted, &rejected); err != nil {
			t.Fatalf("summary %q: %v", stderr[i:], err)
		}
		t.Log(strings.TrimSpace(stderr))
	}
	lastT := func() float64 {
		t.Helper()
		n.Engine.WaitApplied(ctx)
		var v struct {
			T float64 `json:"t"`
		}
		resp, err := http.Get(base + "/api/v1/vehicles/495179")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /api/v1/vehicles/495179: %s", resp.Status)
		}
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatal(err)
		}
		return v.T
	}
	now := func() float64 { return float64(time.Now().UnixNano()) / 1e9 }

	// A fresh server: shifted so that the last record is now, sent at once.
	stderr := replay("--rebase-time", "--speed", "0")
	summary(stderr)
	if sent < 16000 || accepted < sent*99/100 {
		t.Fatalf("--rebase-time --speed 0: %d sent, %d accepted\n%s", sent, accepted, stderr)
	}
	if d := now() - lastT(); d < 0 || d > 30 {
		t.Fatalf("495179's last state is %.0f s before now, want the last record at about now", d)
	}

	// The server's clock is now: the recording as it is lies outside its
	// window, and the replay reports every record as late.
	stderr = replay()
	summary(stderr)
	if accepted != 0 || rejected != sent || !strings.Contains(stderr, fmt.Sprintf("replay: rejected %d records: late (", sent)) ||
		!strings.Contains(stderr, "--rebase-time") {
		t.Fatalf("unshifted: %d sent, %d accepted, %d rejected\n%s", sent, accepted, rejected, stderr)
	}

	// Paced at 1000x: each record stamped with the time it is sent.
	before := now()
	stderr = replay("--rebase-time", "--speed", "1000")
	summary(stderr)
	if accepted < sent*99/100 {
		t.Fatalf("--rebase-time --speed 1000: %d sent, %d accepted\n%s", sent, accepted, stderr)
	}
	if v := lastT(); v < before || v > now()+1 {
		t.Fatalf("495179 at %f, want stamped between %f and now", v, before)
	}
}
