package builtin_test

import (
	"context"
	"encoding/binary"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/builtin"
)

// goldenBatch builds encounters from exactly representable inputs (integers
// scaled by powers of two), computed in integer arithmetic, so that the inputs
// are the same bits on every machine and compiler: only the models' own
// rounding can change the outputs.
func goldenBatch() ([]abi.Vehicle, []abi.Pair) {
	rng := rand.New(rand.NewPCG(2026, 11))
	ival := func(n int) int64 { return int64(rng.IntN(2*n+1) - n) }
	vs := make([]abi.Vehicle, 0, 4096)
	for len(vs) < cap(vs) {
		var a, b abi.Vehicle
		z := zones[rng.IntN(len(zones))]
		ax, ay, az := ival(1<<15), ival(1<<15), ival(1<<12)   // 1/16 m: ±2 km, ±256 m
		avx, avy, avz := ival(1<<13), ival(1<<13), ival(1<<9) // 1/64 m/s: ±128 m/s, ±8 m/s
		ox, oy, oz := ival(1<<13), ival(1<<13), ival(1<<10)   // B's offset, ±512 m, ±64 m
		bvx, bvy, bvz := ival(1<<13), ival(1<<13), ival(1<<9) //
		if rng.IntN(2) == 0 {                                 // B heads for A's position in 1..40 s (integer division: exact)
			tm := int64(1 + rng.IntN(40))
			bvx, bvy, bvz = avx-ox*4/tm+ival(8), avy-oy*4/tm+ival(8), avz-oz*4/tm
		}
		dalt, dtb := ival(1<<6), ival(1<<10) // altitude offset 1/16 m, B's age 1/32 s
		set := func(v *abi.Vehicle, x, y, zz, vx, vy, vz int64) {
			v.X, v.Y, v.Z = float64(x)/16, float64(y)/16, float64(zz)/16
			v.VX, v.VY, v.VZ = float64(vx)/64, float64(vy)/64, float64(vz)/64
			v.Alt, v.VRate = float64(zz+dalt)/16, float64(vz)/64
			v.HSep, v.VSep, v.Radius = z[0], z[1], z[2]
		}
		set(&a, ax, ay, az, avx, avy, avz)
		set(&b, ax+ox, ay+oy, az+oz, bvx, bvy, bvz)
		a.T = t0
		b.T = t0 - float64(max(dtb, 0))/32
		if rng.IntN(4) == 0 {
			a.AX, a.AY, a.AZ = float64(ival(64))/8, float64(ival(64))/8, float64(ival(16))/8
			a.Flags |= abi.FlagHasAccel
		}
		vs = append(vs, a, b)
	}
	ps := make([]abi.Pair, len(vs)/2)
	for i := range ps {
		ps[i] = abi.Pair{A: uint32(2 * i), B: uint32(2*i + 1)}
	}
	return vs, ps
}

// TestGoldenBits pins the exact bits of the builtin models on a fixed batch.
// If it fails, either the models changed (bump ScorerVersion or
// PredictorVersion, regenerate the conformance vectors, update the hashes) or
// this platform computes different bits (a fused multiply-add crept in: see
// RATIONALE.md).
func TestGoldenBits(t *testing.T) {
	const (
		wantScore   = 0x3f40683f075764d6
		wantPredict = 0xe56b49b61389d935
	)
	vs, ps := goldenBatch()
	p := abi.Params{Horizon: 30, MinRisk: 0.3, Samples: 4}
	res := make([]abi.Result, len(ps))
	if err := (builtin.Scorer{}).Score(context.Background(), p, vs, ps, res); err != nil {
		t.Fatal(err)
	}
	var conflicts, los int
	hs := fnv.New64a()
	for _, r := range res {
		for _, f := range []float64{r.Risk, r.TCA, r.DMin, r.TIn, r.TOut} {
			hs.Write(binary.LittleEndian.AppendUint64(nil, math.Float64bits(f)))
		}
		hs.Write(binary.LittleEndian.AppendUint32(nil, r.Flags))
		if r.Flags&abi.ResultConflict != 0 {
			conflicts++
		}
		if r.Flags&abi.ResultLoS != 0 {
			los++
		}
	}
	boxes := make([]abi.Box, len(vs))
	samples := make([]abi.Point, len(vs)*int(p.Samples))
	if err := (builtin.Predictor{}).Predict(context.Background(), p, vs, boxes, samples); err != nil {
		t.Fatal(err)
	}
	hp := fnv.New64a()
	for _, b := range boxes {
		for _, f := range []float64{b.MinX, b.MinY, b.MinZ, b.MaxX, b.MaxY, b.MaxZ} {
			hp.Write(binary.LittleEndian.AppendUint64(nil, math.Float64bits(f)))
		}
	}
	for _, s := range samples {
		for _, f := range []float64{s.X, s.Y, s.Z} {
			hp.Write(binary.LittleEndian.AppendUint64(nil, math.Float64bits(f)))
		}
	}
	t.Logf("%d pairs: %d conflicts, %d in LoS", len(ps), conflicts, los)
	if conflicts < len(ps)/10 || los < len(ps)/50 {
		t.Errorf("golden batch too thin: %d conflicts, %d LoS of %d pairs", conflicts, los, len(ps))
	}
	if got := hs.Sum64(); got != wantScore {
		t.Errorf("scorer bits: hash %#x, want %#x", got, uint64(wantScore))
	}
	if got := hp.Sum64(); got != wantPredict {
		t.Errorf("predictor bits: hash %#x, want %#x", got, uint64(wantPredict))
	}
}
