package abi_test

import (
	"bytes"
	"context"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/builtin"
)

var update = flag.Bool("update", false, "regenerate abi/testdata/*.cdpb from the builtin models")

// vectorSpec describes one conformance vector before the builtin fills its
// outputs.
type vectorSpec struct {
	name     string
	op       uint32
	params   abi.Params
	vehicles []abi.Vehicle
	pairs    []abi.Pair
	// Strides beyond the v1.0 sizes (0: the v1.0 size), to check that a
	// plugin steps by the header's strides; the gaps are filled with 0xA5.
	vehicleStride, pairStride, resultStride, boxStride, pointStride uint32
}

// TestConformanceVectors regenerates (-update) or checks the conformance
// vectors: the builtin models must reproduce every stored output bit for
// bit. A failure here means the builtin changed its results: bump its
// version and regenerate, on purpose.
func TestConformanceVectors(t *testing.T) {
	for _, s := range vectorSpecs() {
		img := buildVector(t, s)
		path := filepath.Join("testdata", s.name+".cdpb")
		if *update {
			if err := os.WriteFile(path, img, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		old, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./abi -run TestConformanceVectors -update)", err)
		}
		if !bytes.Equal(old, img) {
			t.Errorf("%s: the builtin no longer reproduces the stored vector", s.name)
		}
	}
	vs, err := abi.Vectors()
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != len(vectorSpecs()) {
		t.Fatalf("abi.Vectors() has %d vectors, want %d", len(vs), len(vectorSpecs()))
	}
}

func or(v, def uint32) uint32 {
	if v == 0 {
		return def
	}
	return v
}

func buildVector(t *testing.T, s vectorSpec) []byte {
	t.Helper()
	ctx := context.Background()
	h := abi.Header{Magic: abi.Magic, Version: abi.Version, HeaderSize: uint32(abi.HeaderSize), Op: s.op,
		NumVehicles: uint32(len(s.vehicles)), Horizon: s.params.Horizon, MinRisk: s.params.MinRisk,
		VehicleStride: or(s.vehicleStride, uint32(abi.VehicleSize)), PairStride: or(s.pairStride, uint32(abi.PairSize)),
		ResultStride: or(s.resultStride, uint32(abi.ResultSize)), BoxStride: or(s.boxStride, uint32(abi.BoxSize)),
		PointStride: or(s.pointStride, uint32(abi.PointSize))}
	al := func(n uint64) uint64 { return (n + 7) &^ 7 }
	off := uint64(abi.HeaderSize)
	h.VehiclesOff = uint32(off)
	off = al(off + uint64(len(s.vehicles))*uint64(h.VehicleStride))
	if s.op == abi.OpScore {
		h.NumPairs = uint32(len(s.pairs))
		h.PairsOff = uint32(off)
		off = al(off + uint64(len(s.pairs))*uint64(h.PairStride))
		h.ResultsOff = uint32(off)
		off = al(off + uint64(len(s.pairs))*uint64(h.ResultStride))
	} else {
		h.Samples = s.params.Samples
		h.BoxesOff = uint32(off)
		off = al(off + uint64(len(s.vehicles))*uint64(h.BoxStride))
		if h.Samples > 0 {
			h.SamplesOff = uint32(off)
			off = al(off + uint64(len(s.vehicles))*uint64(h.Samples)*uint64(h.PointStride))
		}
	}
	h.BatchSize = uint32(off)
	img := make([]byte, h.BatchSize)
	for i := abi.HeaderSize; i < len(img); i++ {
		img[i] = 0xA5
	}
	for i := range s.vehicles {
		abi.PutVehicle(img, &h, i, &s.vehicles[i])
	}
	if s.op == abi.OpScore {
		res := make([]abi.Result, len(s.pairs))
		if err := (builtin.Scorer{}).Score(ctx, s.params, s.vehicles, s.pairs, res); err != nil {
			t.Fatal(err)
		}
		for i := range s.pairs {
			abi.PutPair(img, &h, i, s.pairs[i])
			o := int(h.ResultsOff) + i*int(h.ResultStride)
			abi.EncodeResult(img[o:], &res[i])
		}
		h.OutCount = h.NumPairs
	} else {
		boxes := make([]abi.Box, len(s.vehicles))
		pts := make([]abi.Point, len(s.vehicles)*int(h.Samples))
		if err := (builtin.Predictor{}).Predict(ctx, s.params, s.vehicles, boxes, pts); err != nil {
			t.Fatal(err)
		}
		for i := range boxes {
			o := int(h.BoxesOff) + i*int(h.BoxStride)
			putF64s(img[o:], boxes[i].MinX, boxes[i].MinY, boxes[i].MinZ, boxes[i].MaxX, boxes[i].MaxY, boxes[i].MaxZ)
		}
		for i := range pts {
			o := int(h.SamplesOff) + i*int(h.PointStride)
			putF64s(img[o:], pts[i].X, pts[i].Y, pts[i].Z)
		}
		h.OutCount = h.NumVehicles
	}
	abi.PutHeader(img, &h)
	if _, err := abi.DecodeHeader(img); err != nil {
		t.Fatalf("%s: %v", s.name, err)
	}
	return img
}

func putF64s(b []byte, fs ...float64) {
	for i, f := range fs {
		u := math.Float64bits(f)
		for k := 0; k < 8; k++ {
			b[8*i+k] = byte(u >> (8 * k))
		}
	}
}

// veh is a compact constructor for the edge cases.
func veh(x, y, alt, vx, vy, vrate, t float64, hsep, vsep, radius float32) abi.Vehicle {
	return abi.Vehicle{X: x, Y: y, Z: alt, VX: vx, VY: vy, Alt: alt, VRate: vrate, VZ: vrate, T: t,
		HSep: hsep, VSep: vsep, Radius: radius}
}

func vectorSpecs() []vectorSpec {
	const t0 = 1.7e9
	p := abi.Params{Horizon: 30, MinRisk: 0.3}

	// Edge cases, each pair also scored swapped (A, B) -> (B, A).
	var ev []abi.Vehicle
	add := func(a, b abi.Vehicle) { ev = append(ev, a, b) }
	add(veh(0, 0, 100, 50, 0, 0, t0, 50, 25, 2), veh(2000, 0, 100, -50, 0, 0, t0, 50, 25, 2))       // head-on
	add(veh(0, -800, 100, 0, 40, 0, t0, 50, 25, 2), veh(-900, 0, 100, 45, 0, 0, t0, 50, 25, 2))     // crossing
	add(veh(0, 0, 100, 20, 0, 0, t0, 50, 25, 2), veh(0, 30, 100, 20, 0, 0, t0, 50, 25, 2))          // in LoS, parallel
	add(veh(0, 0, 100, 20, 0, 0, t0, 50, 25, 2), veh(0, 500, 100, 20, 0, 0, t0, 50, 25, 2))         // parallel apart
	add(veh(0, 0, 100, 20, 0, 0, t0, 50, 25, 2), veh(100, 0, 100, -20, 0, 0, t0-40, 50, 25, 2))     // stale: W < 0
	add(veh(0, 0, 100, 20, 0, 0, t0, 50, 25, 2), veh(600, 10, 100, -20, 0, 0, t0-5, 50, 25, 2))     // times differ
	add(veh(0, 0, 100, 0, 0, 5, t0, 50, 25, 2), veh(10, 0, 300, 0, 0, -5, t0, 50, 25, 2))           // vertical only
	add(veh(0, 0, 100, 0, 0, 0, t0, 50, 25, 2), veh(10, 0, 135, 0, 0, 0, t0, 50, 25, 2))            // above V
	add(veh(0, 0, 100, 0, 0, 0, t0, 50, 25, 2), veh(10, 0, 120, 0, 0, 0, t0, 50, 25, 2))            // inside V
	add(veh(0, 0, 100, 10, 0, 0, t0, 0, 0, 0), veh(200, 0, 100, -10, 0, 0, t0, 0, 0, 0))            // zero zone
	add(veh(0, 0, 100, 10, 0, 0, t0, 50, 0, 0), veh(300, 0, 100, -10, 0, 0, t0, 40, 0, 0))          // zero vertical zone
	add(veh(0, 0, 100, 1e-7, 0, 0, t0, 50, 25, 2), veh(40, 0, 100, 0, 0, 0, t0, 50, 25, 2))         // tiny speed
	add(veh(0, 0, 100, 10, 0, 0, t0, 50, 25, 0), veh(100, 50, 100, -10, 0, 0, t0, 50, 25, 0))       // tangent: disc = 0
	add(veh(0, 0, 100, 10, 0, 0, t0, 50, 25, 0), veh(100, 49.9, 100, -10, 0, 0, t0, 50, 25, 0))     // barely
	add(veh(0, 0, 100, 100, 0, 0, t0, 50, 25, 0), veh(6100, 0, 100, -100, 0, 0, t0, 50, 25, 0))     // tin = 30 = H
	add(veh(0, 0, 100, 100, 0, 0, t0, 50, 25, 0), veh(6101, 0, 100, -100, 0, 0, t0, 50, 25, 0))     // tin just past H
	add(veh(0, 0, 100, -10, 0, 0, t0, 50, 25, 0), veh(50, 0, 100, 10, 0, 0, t0, 50, 25, 0))         // leaving: tout = 0
	add(veh(0, 0, 100, 30, 5, 2, t0, 50, 25, 3), veh(900, 40, 160, -30, -2, -2, t0+1.5, 80, 40, 4)) // classes differ
	add(veh(0, 0, 0, 0, 0, 0, 0, 50, 25, 2), veh(1, 1, 1, 1, 1, 1, 0, 50, 25, 2))                   // t = 0
	{                                                                                               // geodetic: z of the frame and the altitude disagree (tilted local vertical)
		a := veh(40000, 20000, 3000, -120, 0, 0, t0, 9260, 304.8, 30)
		b := veh(30000, 20500, 3200, 120, -10, -5, t0, 9260, 304.8, 30)
		a.Z, b.Z = 2850, 3125
		a.VZ, b.VZ = 0.4, -4.2
		a.Flags, b.Flags = abi.FlagGeodetic, abi.FlagGeodetic
		add(a, b)
	}
	{ // acceleration present: the scorer ignores it
		a := veh(0, 0, 100, 20, 0, 0, t0, 50, 25, 2)
		b := veh(800, 0, 100, -20, 0, 0, t0, 50, 25, 2)
		a.AX, a.Flags = 3, abi.FlagHasAccel
		add(a, b)
	}
	var ep []abi.Pair
	for i := 0; i < len(ev); i += 2 {
		ep = append(ep, abi.Pair{A: uint32(i), B: uint32(i + 1)}, abi.Pair{A: uint32(i + 1), B: uint32(i)})
	}

	// Random traffic, dense enough that about a tenth of the pairs conflict.
	r := rand.New(rand.NewPCG(20261126, 4))
	rv := make([]abi.Vehicle, 512)
	for i := range rv {
		alt := 50 + r.Float64()*200
		v := veh(r.Float64()*3000, r.Float64()*3000, alt, r.NormFloat64()*25, r.NormFloat64()*25, r.NormFloat64()*2,
			t0+r.Float64()*3, float32(30+r.IntN(3)*20), float32(15+r.IntN(3)*10), float32(r.Float64()*5))
		v.Z += r.NormFloat64()
		v.VZ += r.NormFloat64() * 0.1
		if r.IntN(4) == 0 {
			v.AX, v.AY, v.Flags = r.NormFloat64(), r.NormFloat64(), abi.FlagHasAccel
		}
		v.Key = uint64(i) * 7919
		rv[i] = v
	}
	rp := make([]abi.Pair, 0, 4096)
	for len(rp) < cap(rp) {
		a, b := r.IntN(len(rv)), r.IntN(len(rv))
		if a == b {
			continue
		}
		// Half the pairs near each other, so conflicts are common.
		if len(rp)%2 == 0 {
			va := &rv[a]
			if dx, dy := rv[b].X-va.X, rv[b].Y-va.Y; dx*dx+dy*dy > 1200*1200 {
				continue
			}
		}
		rp = append(rp, abi.Pair{A: uint32(a), B: uint32(b)})
	}

	// ECEF magnitudes: aircraft 6.4e6 m from the frame origin.
	ex := make([]abi.Vehicle, 64)
	for i := range ex {
		alt := 9000 + r.Float64()*2000
		v := veh(4.2e6+r.Float64()*40000, 1.1e6+r.Float64()*40000, 4.7e6+r.Float64()*2000, r.NormFloat64()*200,
			r.NormFloat64()*200, r.NormFloat64()*10, t0+r.Float64()*10, 9260, 304.8, 40)
		v.Alt = alt
		v.Flags = abi.FlagGeodetic
		ex[i] = v
	}
	var xp []abi.Pair
	for a := range ex {
		for b := a + 1; b < len(ex); b++ {
			xp = append(xp, abi.Pair{A: uint32(a), B: uint32(b)})
		}
	}

	// Predictor inputs.
	pv := make([]abi.Vehicle, 64)
	for i := range pv {
		v := veh(r.NormFloat64()*5000, r.NormFloat64()*5000, 100+r.Float64()*500, r.NormFloat64()*40, r.NormFloat64()*40,
			r.NormFloat64()*3, t0+r.Float64(), 50, 25, 2)
		if i%2 == 1 {
			v.AX, v.AY, v.AZ, v.Flags = r.NormFloat64()*3, r.NormFloat64()*3, r.NormFloat64(), abi.FlagHasAccel
		}
		if i%8 == 3 { // turning point inside the horizon on x
			v.VX, v.AX = 30, -4
		}
		pv[i] = v
	}

	var sp []abi.Pair
	for _, pr := range rp {
		if pr.A < 128 && pr.B < 128 {
			sp = append(sp, pr)
		}
	}

	return []vectorSpec{
		{name: "score-edge", op: abi.OpScore, params: p, vehicles: ev, pairs: ep},
		{name: "score-random", op: abi.OpScore, params: p, vehicles: rv, pairs: rp},
		{name: "score-ecef", op: abi.OpScore, params: abi.Params{Horizon: 120, MinRisk: 0.5}, vehicles: ex, pairs: xp},
		{name: "score-stride", op: abi.OpScore, params: abi.Params{Horizon: 45, MinRisk: 0.2}, vehicles: rv[:128], pairs: sp,
			vehicleStride: 144, pairStride: 16, resultStride: 64},
		{name: "predict-cv", op: abi.OpPredict, params: abi.Params{Horizon: 30, MinRisk: 0.3}, vehicles: pv[:32]},
		{name: "predict-samples", op: abi.OpPredict, params: abi.Params{Horizon: 60, MinRisk: 0.3, Samples: 6}, vehicles: pv},
		{name: "predict-stride", op: abi.OpPredict, params: abi.Params{Horizon: 20, MinRisk: 0.3, Samples: 3}, vehicles: pv[:16],
			vehicleStride: 136, boxStride: 56, pointStride: 32},
	}
}
