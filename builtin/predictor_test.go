package builtin_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/builtin"
)

// randomState returns a state with or without acceleration; with it, one axis
// in two decelerates through zero inside the horizon.
func randomState(rng *rand.Rand, h float64) abi.Vehicle {
	scale := []float64{0, 1, 30, 250}[rng.IntN(4)]
	v := abi.Vehicle{
		X: rng.NormFloat64() * 5000, Y: rng.NormFloat64() * 5000, Z: rng.Float64() * 3000,
		VX: rng.NormFloat64() * scale, VY: rng.NormFloat64() * scale, VZ: rng.NormFloat64() * scale / 10,
		T: t0,
	}
	if rng.IntN(8) == 0 { // ECEF magnitudes
		v.X, v.Y, v.Z = 4.0e6+v.X, 3.0e5+v.Y, 4.9e6+v.Z
	}
	if rng.IntN(2) == 0 {
		v.Flags |= abi.FlagHasAccel
		acc := func(vel float64) float64 {
			if rng.IntN(2) == 0 && vel != 0 { // stop and reverse at t* in (0, h)
				return -vel / (rng.Float64() * max(h, 1))
			}
			return rng.NormFloat64() * 3
		}
		v.AX, v.AY, v.AZ = acc(v.VX), acc(v.VY), acc(v.VZ)
	} else if rng.IntN(2) == 0 {
		// An acceleration without the flag must be ignored.
		v.AX, v.AY, v.AZ = 5, -5, 5
	}
	return v
}

// truePosition is the closed-form trajectory, arranged differently from the
// predictor's: x + t*(v + a*t/2).
func truePosition(v *abi.Vehicle, t float64, accel bool) [3]float64 {
	ax, ay, az := v.AX, v.AY, v.AZ
	if !accel {
		ax, ay, az = 0, 0, 0
	}
	return [3]float64{
		v.X + t*(v.VX+ax*t/2),
		v.Y + t*(v.VY+ay*t/2),
		v.Z + t*(v.VZ+az*t/2),
	}
}

// TestPredictorBox: every position of the trajectory over [0, H] sampled
// finely (and of the constant-velocity trajectory the scorer assumes, when
// the state accelerates) lies in the box; the box is tight to within one
// sampling step's travel; samples match the closed form.
func TestPredictorBox(t *testing.T) {
	const steps = 2000
	ctx := context.Background()
	for seed := range uint64(10) {
		rng := rand.New(rand.NewPCG(seed, 0xb0c5))
		h := []float64{0, 1, 30, 120}[seed%4]
		ns := uint32(seed % 3 * 5) // 0, 5, 10 samples
		p := abi.Params{Horizon: h, MinRisk: 0.3, Samples: ns}
		vs := make([]abi.Vehicle, 300)
		for i := range vs {
			vs[i] = randomState(rng, h)
		}
		boxes := make([]abi.Box, len(vs))
		samples := make([]abi.Point, len(vs)*int(ns))
		if err := (builtin.Predictor{}).Predict(ctx, p, vs, boxes, samples); err != nil {
			t.Fatal(err)
		}
		for i := range vs {
			v, b := &vs[i], boxes[i]
			accel := v.Flags&abi.FlagHasAccel != 0
			if b != builtin.TrajectoryBox(v, h) && ns == 0 {
				t.Fatalf("Predict box differs from TrajectoryBox")
			}
			if !b.Contains(v.X, v.Y, v.Z) {
				t.Fatalf("seed %d vehicle %d: box %+v misses the current position %+v", seed, i, b, v)
			}
			// Fine sampling of the true trajectories; track their extent.
			lo := [3]float64{math.Inf(1), math.Inf(1), math.Inf(1)}
			hi := [3]float64{math.Inf(-1), math.Inf(-1), math.Inf(-1)}
			for k := 0; k <= steps; k++ {
				tk := h * float64(k) / steps
				for _, model := range []bool{accel, false} {
					q := truePosition(v, tk, model)
					if !b.Contains(q[0], q[1], q[2]) {
						t.Fatalf("seed %d vehicle %d (accel %v): position at %v s %v outside box %+v",
							seed, i, model, tk, q, b)
					}
					for j := range 3 {
						lo[j], hi[j] = math.Min(lo[j], q[j]), math.Max(hi[j], q[j])
					}
				}
			}
			// Tightness: no side further out than one step's travel plus the
			// rounding allowance.
			speed := math.Abs(v.VX) + math.Abs(v.VY) + math.Abs(v.VZ)
			if accel {
				speed += (math.Abs(v.AX) + math.Abs(v.AY) + math.Abs(v.AZ)) * h
			}
			slack := speed*h/steps + 1e-9*(math.Abs(v.X)+math.Abs(v.Y)+math.Abs(v.Z)+speed*h+1)
			got := [6]float64{b.MinX, b.MinY, b.MinZ, b.MaxX, b.MaxY, b.MaxZ}
			want := [6]float64{lo[0], lo[1], lo[2], hi[0], hi[1], hi[2]}
			for j := range 6 {
				if math.Abs(got[j]-want[j]) > slack {
					t.Fatalf("seed %d vehicle %d: box side %d at %v, trajectory reaches %v (slack %v)",
						seed, i, j, got[j], want[j], slack)
				}
			}
			// Samples.
			for k := range int(ns) {
				tk := h * float64(k+1) / float64(ns)
				q := truePosition(v, tk, accel)
				s := samples[i*int(ns)+k]
				tol := 1e-9 * (1 + math.Abs(q[0]) + math.Abs(q[1]) + math.Abs(q[2]))
				if math.Abs(s.X-q[0]) > tol || math.Abs(s.Y-q[1]) > tol || math.Abs(s.Z-q[2]) > tol {
					t.Fatalf("seed %d vehicle %d sample %d: %+v, closed form %v", seed, i, k, s, q)
				}
				if !b.Contains(s.X, s.Y, s.Z) {
					t.Fatalf("seed %d vehicle %d: sample %d %+v outside box %+v", seed, i, k, s, b)
				}
			}
		}
	}
}

// TestPredictorUnionBox: a braking vehicle's box still reaches where constant
// velocity would take it, because the scorer assumes constant velocity.
func TestPredictorUnionBox(t *testing.T) {
	v := abi.Vehicle{VX: 20, AX: -2, Flags: abi.FlagHasAccel} // stops at 100 m after 10 s
	b := builtin.TrajectoryBox(&v, 30)
	if b.MaxX < 600 {
		t.Errorf("box %+v: want MaxX >= 600 (constant velocity over 30 s)", b)
	}
	// Reversing: constant acceleration reaches x = 100 - 400 = -300 at 30 s.
	if b.MinX > -300 {
		t.Errorf("box %+v: want MinX <= -300 (constant acceleration at 30 s)", b)
	}
	// The turning point: launched up at 10 m/s under -g, the top at 5.1 m.
	up := abi.Vehicle{VZ: 10, AZ: -9.81, Flags: abi.FlagHasAccel}
	c := builtin.TrajectoryBox(&up, 1.5) // CA: 0 -> top 5.097 -> 3.96; CV: 0 -> 15
	if c.MaxZ < 15 || c.MinZ > 0 {
		t.Errorf("box %+v", c)
	}
	// Mirror image, and a horizon ending after the turn: CA comes back to
	// -10*2.5 + 9.81*2.5²/2 = 5.66 above the start, CV reaches -25.
	up.VZ, up.AZ = -10, 9.81
	if c := builtin.TrajectoryBox(&up, 2.5); c.MinZ > -25 || c.MaxZ < 5.65 {
		t.Errorf("box %+v", c)
	}
}

func TestPredictErrors(t *testing.T) {
	ctx := context.Background()
	vs := make([]abi.Vehicle, 3)
	pr := builtin.Predictor{}
	p := abi.Params{Horizon: 30, Samples: 2}
	if err := pr.Predict(ctx, p, vs, make([]abi.Box, 2), make([]abi.Point, 6)); !builtin.IsShortOutput(err) {
		t.Errorf("short boxes: %v", err)
	}
	var se *builtin.ShortOutputError
	if err := pr.Predict(ctx, p, vs, make([]abi.Box, 3), make([]abi.Point, 5)); !errors.As(err, &se) || se.Slice != "samples" || se.Need != 6 {
		t.Errorf("short samples: %v", err)
	}
	if err := pr.Predict(ctx, abi.Params{Horizon: -1}, vs, make([]abi.Box, 3), nil); !builtin.IsParams(err) {
		t.Errorf("negative horizon: %v", err)
	}
	if err := pr.Predict(ctx, abi.Params{Horizon: 1, MinRisk: math.NaN()}, vs, make([]abi.Box, 3), nil); err != nil {
		t.Errorf("the predictor does not use MinRisk: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := pr.Predict(cctx, p, vs, make([]abi.Box, 3), make([]abi.Point, 6)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	if m := pr.Model(); m != (abi.ModelID{Name: "builtin-cv", Version: "1.0.0", SHA256: "builtin"}) {
		t.Errorf("Model() = %+v", m)
	}
}

func TestPredictAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	vs := make([]abi.Vehicle, 256)
	for i := range vs {
		vs[i] = randomState(rng, 30)
	}
	boxes := make([]abi.Box, len(vs))
	samples := make([]abi.Point, len(vs)*8)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, ns := range []uint32{0, 8} {
		p := abi.Params{Horizon: 30, Samples: ns}
		n := testing.AllocsPerRun(100, func() {
			if err := (builtin.Predictor{}).Predict(ctx, p, vs, boxes, samples); err != nil {
				t.Fatal(err)
			}
		})
		if n != 0 {
			t.Errorf("Predict with %d samples allocates %v times per batch", ns, n)
		}
	}
}

// TestPredictSampleRoundsPastHorizon: 3*(7.7/3) rounds above 7.7, so the
// last sample lies just past the end point; the box must still hold it.
func TestPredictSampleRoundsPastHorizon(t *testing.T) {
	const h, ns = 7.7, 3
	if float64(ns)*(h/ns) <= h {
		t.Fatal("premise: 3*(7.7/3) should round above 7.7")
	}
	vs := []abi.Vehicle{{VX: 1, VY: -1, VZ: 1}}
	boxes := make([]abi.Box, 1)
	samples := make([]abi.Point, ns)
	p := abi.Params{Horizon: h, Samples: ns}
	if err := (builtin.Predictor{}).Predict(context.Background(), p, vs, boxes, samples); err != nil {
		t.Fatal(err)
	}
	last := samples[ns-1]
	if !boxes[0].Contains(last.X, last.Y, last.Z) {
		t.Errorf("last sample %+v outside box %+v", last, boxes[0])
	}
}
