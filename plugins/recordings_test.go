package plugins

import (
	"encoding/csv"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/builtin"
	"github.com/collision-detection-platform/distributed-platform/examples"
)

// recordingPairs replays a recorded traffic file (examples/data/*/tracks.csv)
// in 10 s ticks and returns, for every tick, the latest state of each
// vehicle seen in the last 30 s and the pairs within reach of each other, as
// one batch. Positions are projected onto a local plane at the first fix
// (an equirectangular approximation: the test needs realistic traffic, not
// geodesy).
func recordingPairs(tb testing.TB, path string, hsep, vsep, reach float64) ([]abi.Vehicle, []abi.Pair) {
	f, err := os.Open(path)
	if err != nil {
		tb.Fatalf("recorded traffic: %v", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	if _, err := r.Read(); err != nil { // header
		tb.Fatal(err)
	}
	const re = 6371008.8
	var lat0, lon0 float64
	first := true
	latest := map[string]abi.Vehicle{}
	var vs []abi.Vehicle
	var ps []abi.Pair
	nextTick := math.Inf(-1)
	flush := func(now float64) {
		var live []abi.Vehicle
		for _, v := range latest {
			if now-v.T <= 30 {
				live = append(live, v)
			}
		}
		base := len(vs)
		vs = append(vs, live...)
		for i := range live {
			for j := i + 1; j < len(live); j++ {
				if math.Hypot(live[i].X-live[j].X, live[i].Y-live[j].Y) < reach {
					ps = append(ps, abi.Pair{A: uint32(base + i), B: uint32(base + j)})
				}
			}
		}
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		var x [7]float64
		for i := range x {
			if x[i], err = strconv.ParseFloat(rec[i+1], 64); err != nil {
				tb.Fatalf("%s: %v", path, err)
			}
		}
		t, lat, lon, alt, ve, vn, vu := x[0], x[1], x[2], x[3], x[4], x[5], x[6]
		if first {
			lat0, lon0, first, nextTick = lat, lon, false, t+10
		}
		for t >= nextTick {
			flush(nextTick)
			nextTick += 10
		}
		latest[rec[0]] = abi.Vehicle{
			X: (lon - lon0) * math.Pi / 180 * re * math.Cos(lat0*math.Pi/180), Y: (lat - lat0) * math.Pi / 180 * re, Z: alt,
			VX: ve, VY: vn, VZ: vu, Alt: alt, VRate: vu, T: t,
			Radius: 20, HSep: float32(hsep), VSep: float32(vsep), Flags: abi.FlagGeodetic,
		}
	}
	return vs, ps
}

// TestExamplesMatchBuiltinOnRecordings scores the recorded traffic with the
// builtin and with each example; every result must be bit-identical.
func TestExamplesMatchBuiltinOnRecordings(t *testing.T) {
	recordings := []struct {
		name              string
		hsep, vsep, reach float64
		horizon           float64
	}{
		{"opensky-uk-2021-07-12", 9260, 304.8, 60000, 120}, // 5 NM / 1000 ft
		{"solent-ais-2016-01-12", 200, 50, 5000, 300},
	}
	models := []string{"c-cpa", "go-cpa"}
	for _, rec := range recordings {
		t.Run(rec.name, func(t *testing.T) {
			path := filepath.Join("..", "examples", "data", rec.name, "tracks.csv")
			vs, ps := recordingPairs(t, path, rec.hsep, rec.vsep, rec.reach)
			prm := abi.Params{Horizon: rec.horizon, MinRisk: 0.3}
			want := make([]abi.Result, len(ps))
			if err := (builtin.Scorer{}).Score(ctx, prm, vs, ps, want); err != nil {
				t.Fatal(err)
			}
			conflicts := 0
			for _, r := range want {
				if r.Flags&abi.ResultConflict != 0 {
					conflicts++
				}
			}
			t.Logf("%d states, %d pairs, %d in conflict", len(vs), len(ps), conflicts)
			if len(ps) < 1000 || conflicts == 0 {
				t.Fatalf("recording gave too little to compare: %d pairs, %d conflicts", len(ps), conflicts)
			}
			for _, m := range models {
				p := mustLoad(t, mustRuntime(t), examples.Module(t, m), Options{Instances: 1})
				got := make([]abi.Result, len(ps))
				if err := p.Score(ctx, prm, vs, ps, got); err != nil {
					t.Fatal(err)
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%s, pair %d: %+v, builtin %+v", m, i, got[i], want[i])
					}
				}
			}
		})
	}
}
