package builtin_test

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/abi"
)

// recordedDir holds the recorded traffic kept in the repository.
const recordedDir = "../examples/data"

// loadTracks reads a tracks.csv (id,t,lat,lon,alt_m,vx_mps,vy_mps,vz_mps)
// into states in a local tangent plane at the first record (flat earth: the
// geometry only needs to be plausible and consistent, Alt = Z).
func loadTracks(t *testing.T, path string, zone [3]float32) (ids []string, vs []abi.Vehicle) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("recorded traffic: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	const re = 6371e3
	var lat0, lon0 float64
	for sc.Scan() {
		fs := strings.Split(sc.Text(), ",")
		if len(fs) != 8 {
			t.Fatalf("%s: bad line %q", path, sc.Text())
		}
		var x [7]float64
		for i := range x {
			if x[i], err = strconv.ParseFloat(fs[i+1], 64); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
		if len(vs) == 0 {
			lat0, lon0 = x[1], x[2]
		}
		rad := math.Pi / 180
		e := (x[2] - lon0) * rad * re * math.Cos(lat0*rad)
		n := (x[1] - lat0) * rad * re
		ids = append(ids, fs[0])
		vs = append(vs, abi.Vehicle{
			X: e, Y: n, Z: x[3], VX: x[4], VY: x[5], VZ: x[6], Alt: x[3], VRate: x[6], T: x[0],
			HSep: zone[0], VSep: zone[1], Radius: zone[2],
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return ids, vs
}

// TestRiskContractRecorded replays recorded traffic (aircraft with 1 NM /
// 500 ft zones, ships with 100 m zones): at each update, the updated vehicle
// is scored against every other vehicle whose latest state the window reaches
// and that could come within reach, and each result is checked against the
// brute force like the randomized pairs.
func TestRiskContractRecorded(t *testing.T) {
	for _, ds := range []struct {
		dir     string
		zone    [3]float32
		horizon float64
		every   int // check every n-th update (the brute force is slow)
	}{
		{"opensky-uk-2021-07-12", [3]float32{1852, 152, 30}, 30, 7},
		{"solent-ais-2016-01-12", [3]float32{100, 50, 20}, 30, 6},
	} {
		t.Run(ds.dir, func(t *testing.T) {
			ids, recs := loadTracks(t, filepath.Join(recordedDir, ds.dir, "tracks.csv"), ds.zone)
			p := abi.Params{Horizon: ds.horizon, MinRisk: 0.3}
			latest := map[string]int{}
			var counts [nOutcomes]int
			checked := 0
			for i := range recs {
				latest[ids[i]] = i
				if i%ds.every != 0 || (testing.Short() && checked > 300) {
					continue
				}
				a := &recs[i]
				for id, j := range latest {
					b := &recs[j]
					if id == ids[i] || a.T-b.T > ds.horizon {
						continue
					}
					// Reach: both could close the gap within the horizon.
					dx, dy, dz := a.X-b.X, a.Y-b.Y, a.Alt-b.Alt
					gap := math.Sqrt(dx*dx+dy*dy+dz*dz) - 2*float64(ds.zone[0]+2*ds.zone[2])
					closing := math.Hypot(math.Hypot(a.VX, a.VY), a.VZ) + math.Hypot(math.Hypot(b.VX, b.VY), b.VZ)
					if gap > closing*(2*ds.horizon) {
						continue
					}
					checked++
					fail := func(r abi.Result, format string, args ...any) {
						t.Helper()
						t.Errorf("%s vs %s at %.3f: "+format+"\n A=%+v\n B=%+v\n result=%+v",
							append(append([]any{ids[i], id, a.T}, args...), *a, *b, r)...)
					}
					counts[checkContract(t, a, b, p, fail)]++
					if t.Failed() {
						return
					}
				}
			}
			t.Logf("%d pairs checked: %s", checked, outcomeSummary(counts))
			if checked < 100 || counts[outAmbiguous] > checked/20 {
				t.Errorf("%d pairs checked, %d too close to call", checked, counts[outAmbiguous])
			}
		})
	}
}
