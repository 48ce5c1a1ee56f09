package grid

import (
	"encoding/csv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestRecordedTraffic replays the recorded tracks in ../examples/data the way
// the engine does: each report sets the vehicle's 30 s swept box (grown by
// 115 m), vehicles silent for 60 s are deleted and their slot reused, and
// every 10 s of data time all boxes are queried against the oracle and
// Adjust runs.
func TestRecordedTraffic(t *testing.T) {
	for _, name := range []string{"opensky-uk-2021-07-12", "solent-ais-2016-01-12"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("..", "examples", "data", name, "tracks.csv")
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			replay(t, csv.NewReader(f))
		})
	}
}

func replay(t *testing.T, r *csv.Reader) {
	const (
		horizon = 30.0
		margin  = 115.0
		ttl     = 60.0
		maxIDs  = 512
	)
	if _, err := r.Read(); err != nil { // header
		t.Fatal(err)
	}
	g := mustNew(t, Config{})
	g.Grow(maxIDs)
	o := newOracle(maxIDs)
	rng := rand.New(rand.NewPCG(1, 1))
	slots := map[string]uint32{}
	lastSeen := make([]float64, maxIDs)
	var free []uint32
	for i := maxIDs - 1; i >= 0; i-- {
		free = append(free, uint32(i))
	}
	var lat0, lon0, nextCheck float64
	rows, checks, resizes := 0, 0, 0
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var v [7]float64
		for i := range v {
			if v[i], err = strconv.ParseFloat(rec[i+1], 64); err != nil {
				t.Fatalf("row %d: %v", rows, err)
			}
		}
		tm, lat, lon, alt, vx, vy, vz := v[0], v[1], v[2], v[3], v[4], v[5], v[6]
		if rows == 0 {
			lat0, lon0, nextCheck = lat, lon, tm+10
		}
		rows++
		for tm >= nextCheck { // a tick boundary
			for id, ok := range o.ok {
				if ok && nextCheck-lastSeen[id] > ttl {
					g.Delete(uint32(id))
					o.del(uint32(id))
					free = append(free, uint32(id))
					for k, s := range slots {
						if s == uint32(id) {
							delete(slots, k)
						}
					}
				}
			}
			checkAll(t, g, o, rng, Box{-2e5, -2e5, 0, 2e5, 2e5, 12000})
			checks++
			if g.Adjust() {
				resizes++
				if os.Getenv("GRID_TRACE") != "" {
					t.Logf("t=%.0f size %g q %.2f n %d", nextCheck, g.CellSize(), g.Stats().Occupancy, g.Len())
				}
			}
			nextCheck += 10
		}
		id, ok := slots[rec[0]]
		if !ok {
			if len(free) == 0 {
				t.Fatal("more than 512 vehicles at once")
			}
			id, free = free[len(free)-1], free[:len(free)-1]
			slots[rec[0]] = id
		}
		const rad = math.Pi / 180
		x := (lon - lon0) * rad * 6371e3 * math.Cos(lat0*rad)
		y := (lat - lat0) * rad * 6371e3
		x2, y2, z2 := x+vx*horizon, y+vy*horizon, alt+vz*horizon
		b := Box{min(x, x2) - margin, min(y, y2) - margin, min(alt, z2) - margin,
			max(x, x2) + margin, max(y, y2) + margin, max(alt, z2) + margin}
		g.Set(id, b)
		o.set(id, b)
		lastSeen[id] = tm
	}
	st := g.Stats()
	t.Logf("%d rows, %d checks, %d resizes, final cell size %g m, %d levels", rows, checks, resizes, st.CellSize, st.Levels)
	if checks == 0 {
		t.Fatal("no tick was checked")
	}
}
