package builtin

import (
	"context"
	"fmt"
	"math"

	"github.com/collision-detection-platform/distributed-platform/abi"
)

// Identity of the builtin predictor.
const (
	// PredictorName is the ModelID name of Predictor. The name says "cv"
	// because constant velocity is the model the scorer assumes; the predictor
	// also applies constant acceleration to states that carry one.
	PredictorName = "builtin-cv"
	// PredictorVersion is the ModelID version of Predictor. It changes whenever
	// a box or a sample could change by one bit.
	PredictorVersion = "1.0.0"
)

// boxPad is the relative rounding allowance added around a
// constant-acceleration box (see TrajectoryBox).
const boxPad = 1e-12

// Predictor is the builtin kinematic predictor: constant velocity, or
// constant acceleration for a state with abi.FlagHasAccel. The zero value is
// ready to use and safe for concurrent use.
type Predictor struct{}

// Model returns {PredictorName, PredictorVersion, BuiltinSHA256}.
func (Predictor) Model() abi.ModelID {
	return abi.ModelID{Name: PredictorName, Version: PredictorVersion, SHA256: BuiltinSHA256}
}

// Predict writes boxes[i] = TrajectoryBox(&vehicles[i], p.Horizon) and, when
// p.Samples > 0, the positions Position(&vehicles[i], k*(p.Horizon/p.Samples)),
// k = 1..p.Samples, to samples[i*p.Samples:(i+1)*p.Samples]; boxes[i] is
// widened to hold every sample, so the box contains the current position and
// all samples even where k*(H/S) rounds past H. It checks ctx once, before
// the batch, and does not allocate. It fails with a *ParamsError when
// p.Horizon is negative (or -0) or not finite, and a *ShortOutputError when
// boxes or samples is too short; after an error the outputs are unspecified.
func (Predictor) Predict(ctx context.Context, p abi.Params, vehicles []abi.Vehicle, boxes []abi.Box, samples []abi.Point) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("builtin: predict: %w", err)
	}
	if err := checkHorizon(p.Horizon); err != nil {
		return err
	}
	if len(boxes) < len(vehicles) {
		return &ShortOutputError{Slice: "boxes", Have: len(boxes), Need: len(vehicles)}
	}
	boxes = boxes[:len(vehicles)]
	ns := int(p.Samples)
	if ns == 0 {
		for i := range vehicles {
			boxes[i] = TrajectoryBox(&vehicles[i], p.Horizon)
		}
		return nil
	}
	if need := uint64(len(vehicles)) * uint64(ns); uint64(len(samples)) < need {
		return &ShortOutputError{Slice: "samples", Have: len(samples), Need: int(need)}
	}
	step := p.Horizon / float64(ns)
	for i := range vehicles {
		v := &vehicles[i]
		b := TrajectoryBox(v, p.Horizon)
		out := samples[i*ns : (i+1)*ns]
		for k := range out {
			pt := Position(v, float64(k+1)*step)
			out[k] = pt
			b.MinX, b.MaxX = fmin(b.MinX, pt.X), fmax(b.MaxX, pt.X)
			b.MinY, b.MaxY = fmin(b.MinY, pt.Y), fmax(b.MaxY, pt.Y)
			b.MinZ, b.MaxZ = fmin(b.MinZ, pt.Z), fmax(b.MaxZ, pt.Z)
		}
		boxes[i] = b
	}
	return nil
}

// Position returns the predicted position of v at t seconds after v.T:
// x + vx*t (per axis) under constant velocity, and
// x + vx*t + 0.5*ax*t*t (evaluated left to right, nothing fused) when v has
// abi.FlagHasAccel.
func Position(v *abi.Vehicle, t float64) abi.Point {
	if v.Flags&abi.FlagHasAccel == 0 {
		return abi.Point{
			X: v.X + float64(v.VX*t),
			Y: v.Y + float64(v.VY*t),
			Z: v.Z + float64(v.VZ*t),
		}
	}
	return abi.Point{
		X: caAt(v.X, v.VX, v.AX, t),
		Y: caAt(v.Y, v.VY, v.AY, t),
		Z: caAt(v.Z, v.VZ, v.AZ, t),
	}
}

func caAt(x, vx, ax, t float64) float64 {
	return x + float64(vx*t) + float64(0.5*ax*t*t)
}

// TrajectoryBox returns the bounding box of v's positions over [v.T, v.T+h],
// not grown (the host adds the hard-body radius and the separation margin).
//
// Under constant velocity it is the box of the two end points. With
// abi.FlagHasAccel it is the union of the constant-acceleration box (end
// points, and per axis the turning point t* = -vx/ax where 0 < t* < h) and
// the constant-velocity box: the builtin scorer ignores acceleration, and the
// swept box must cover what the scorer assesses. The constant-acceleration
// part is widened on each axis by 1e-12*(|x| + |vx|*h + |ax|*h*h), a rounding
// allowance (micrometres at ECEF magnitudes) so that a position computed in
// float64 by any arrangement of the formula lies inside.
func TrajectoryBox(v *abi.Vehicle, h float64) abi.Box {
	var b abi.Box
	b.MinX, b.MaxX = axisRange(v.X, v.VX, h)
	b.MinY, b.MaxY = axisRange(v.Y, v.VY, h)
	b.MinZ, b.MaxZ = axisRange(v.Z, v.VZ, h)
	if v.Flags&abi.FlagHasAccel == 0 {
		return b
	}
	b.MinX, b.MaxX = caAxisRange(b.MinX, b.MaxX, v.X, v.VX, v.AX, h)
	b.MinY, b.MaxY = caAxisRange(b.MinY, b.MaxY, v.Y, v.VY, v.AY, h)
	b.MinZ, b.MaxZ = caAxisRange(b.MinZ, b.MaxZ, v.Z, v.VZ, v.AZ, h)
	return b
}

// axisRange is the constant-velocity range of one axis over [0, h]. x + vx*t
// rounds monotonically in t, so the end points bound every computed position.
func axisRange(x, vx, h float64) (lo, hi float64) {
	e := x + float64(vx*h)
	return fmin(x, e), fmax(x, e)
}

// caAxisRange widens [lo, hi] to the constant-acceleration range of one axis
// over [0, h], plus the rounding allowance.
func caAxisRange(lo, hi, x, vx, ax, h float64) (float64, float64) {
	e := caAt(x, vx, ax, h)
	lo, hi = fmin(lo, e), fmax(hi, e)
	if ax != 0 {
		if ts := -vx / ax; ts > 0 && ts < h {
			m := caAt(x, vx, ax, ts)
			lo, hi = fmin(lo, m), fmax(hi, m)
		}
	}
	pad := boxPad * (math.Abs(x) + float64(math.Abs(vx)*h) + float64(math.Abs(ax)*h*h))
	return lo - pad, hi + pad
}

// fmax and fmin are the specification's max and min, plain comparisons (not
// math.Max or the builtin max, which order -0 below +0 and propagate NaN), so
// that every port of the predictor computes the same bits, down to the sign
// of a zero box side.
func fmax(x, y float64) float64 {
	if x > y {
		return x
	}
	return y
}

func fmin(x, y float64) float64 {
	if x < y {
		return x
	}
	return y
}

var _ abi.Predictor = Predictor{}
