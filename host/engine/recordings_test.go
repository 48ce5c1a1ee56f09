package engine

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/host/geo"
)

// dataDir is examples/data, the recorded traffic kept in the repository
// (tests run in their package directory).
func dataDir(t testing.TB) string {
	p := filepath.Join("..", "..", "examples", "data")
	if st, err := os.Stat(p); err != nil || !st.IsDir() {
		t.Fatalf("recorded traffic: %v", err)
	}
	return p
}

type row struct {
	id string
	v  abi.Vehicle
}

// readTracks reads a recording (id,t,lat,lon,alt_m,vx_mps,vy_mps,vz_mps) into
// states in the frame, every vehicle in one class.
func readTracks(t testing.TB, path string, f *geo.Frame, hsep, vsep float32) []row {
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Scan() // header
	var rows []row
	for sc.Scan() {
		c := strings.Split(sc.Text(), ",")
		num := func(i int) float64 {
			x, err := strconv.ParseFloat(c[i], 64)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			return x
		}
		lat, lon, alt := num(2), num(3), num(4)
		var v abi.Vehicle
		v.T = num(1)
		v.X, v.Y, v.Z = f.FromGeodetic(lat, lon, alt)
		v.VX, v.VY, v.VZ = f.VectorAt(lat, lon, num(5), num(6), num(7))
		v.Alt, v.VRate = alt, num(7)
		v.HSep, v.VSep = hsep, vsep
		v.Flags = abi.FlagGeodetic
		rows = append(rows, row{id: c[0], v: v})
	}
	return rows
}

// replayChecked runs a recording through the engine in ticks of one second of
// data time and checks every tick against the oracle.
func replayChecked(t *testing.T, c *checker, rows []row) {
	var ups []Update
	end := rows[0].v.T + 1
	for i := 0; i < len(rows); i++ {
		r := rows[i]
		if r.v.T >= end {
			c.tick(ups)
			ups = ups[:0]
			end = math.Floor(r.v.T) + 1
		}
		ups = append(ups, Update{ID: []byte(r.id), V: r.v})
	}
	c.tick(ups)
}

func TestRecordingOpenSkyMatchesOracle(t *testing.T) {
	f := geo.MustNew(geo.Config{Lat: 52.0, Lon: -1.0})
	rows := readTracks(t, filepath.Join(dataDir(t), "opensky-uk-2021-07-12", "tracks.csv"), f, 9260, 304.8)
	cfg := Default()
	cfg.Workers = 2
	cfg.MaxDistance = 10000 // the 5 NM / 1000 ft cylinder reaches 9265 m
	cfg.Horizon = 120
	c := newChecker(t, cfg)
	var opened []Event
	c.e.AddSink(SinkFunc(func(evs []Event) {
		for _, ev := range evs {
			if ev.Type == EventOpened {
				opened = append(opened, ev)
			}
		}
	}))
	replayChecked(t, c, rows)
	found := false
	for _, ev := range opened {
		if (ev.VehicleA == "4009cc" && ev.VehicleB == "4009d2") || (ev.VehicleA == "4009d2" && ev.VehicleB == "4009cc") {
			found = true
		}
	}
	if !found {
		t.Fatalf("the formation pair 4009cc/4009d2 was never reported; %d risks opened", len(opened))
	}
	t.Logf("%d pairs checked against the oracle, %d risks opened", c.pairsOK, len(opened))
}

func TestRecordingSolentMatchesOracle(t *testing.T) {
	f := geo.MustNew(geo.Config{Lat: 50.78, Lon: -1.2})
	rows := readTracks(t, filepath.Join(dataDir(t), "solent-ais-2016-01-12", "tracks.csv"), f, 100, 50)
	cfg := Default()
	cfg.Workers = 2
	cfg.MaxDistance = 200
	cfg.Horizon = 120
	cfg.VehicleTTL = 600 // AIS reports are irregular, minutes apart for slow ships
	c := newChecker(t, cfg)
	opened := 0
	c.e.AddSink(SinkFunc(func(evs []Event) {
		for _, ev := range evs {
			if ev.Type == EventOpened {
				opened++
			}
		}
	}))
	replayChecked(t, c, rows)
	if opened == 0 {
		t.Fatal("no close pass reported in the Solent recording")
	}
	t.Logf("%d pairs checked against the oracle, %d risks opened", c.pairsOK, opened)
}
