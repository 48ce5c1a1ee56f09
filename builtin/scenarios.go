package builtin

import (
	"context"
	"errors"
	"fmt"

	"github.com/collision-detection-platform/distributed-platform/abi"
)

// Scenario is one named pair with the outcome every conforming scorer must
// produce: the behaviour table that the builtin scorer and each Wasm example
// scorer run (see Scenarios).
type Scenario struct {
	Name   string
	A, B   abi.Vehicle
	Params abi.Params
	Want   Want
}

// Want is the expected outcome of a Scenario.
type Want struct {
	Conflict bool // ResultConflict set
	LoS      bool // ResultLoS set (in loss of separation at the reference time)
	// RiskMin and RiskMax bound Result.Risk, both inclusive.
	RiskMin, RiskMax float64
	// TInMin and TInMax bound Result.TIn, both inclusive, when Conflict is
	// set and LoS is not; otherwise TIn must be 0 (LoS) or -1 (no conflict).
	TInMin, TInMax float64
}

// Check returns nil when r is the outcome w describes, else an error naming
// the first difference.
func (w Want) Check(r abi.Result) error {
	conflict := r.Flags&abi.ResultConflict != 0
	los := r.Flags&abi.ResultLoS != 0
	switch {
	case conflict != w.Conflict:
		return fmt.Errorf("conflict = %v, want %v (result %+v)", conflict, w.Conflict, r)
	case los != w.LoS:
		return fmt.Errorf("LoS = %v, want %v (result %+v)", los, w.LoS, r)
	case !(r.Risk >= w.RiskMin && r.Risk <= w.RiskMax):
		return fmt.Errorf("risk = %v, want in [%v, %v] (result %+v)", r.Risk, w.RiskMin, w.RiskMax, r)
	case w.LoS && r.TIn != 0:
		return fmt.Errorf("TIn = %v, want 0 in loss of separation (result %+v)", r.TIn, r)
	case w.Conflict && !w.LoS && !(r.TIn >= w.TInMin && r.TIn <= w.TInMax):
		return fmt.Errorf("TIn = %v, want in [%v, %v] (result %+v)", r.TIn, w.TInMin, w.TInMax, r)
	case !w.Conflict && (r.TIn != -1 || r.TOut != -1):
		return fmt.Errorf("TIn, TOut = %v, %v, want -1, -1 without conflict (result %+v)", r.TIn, r.TOut, r)
	}
	return nil
}

// scenarioT0 is the reference time of the scenarios: a realistic Unix time, so
// that ports meet the magnitudes (and the rounding) of real state times.
const scenarioT0 = 1_764_115_200.0

// Zones of the scenario classes: HSep, VSep, Radius.
var (
	zoneDefault  = [3]float32{50, 25, 1} // R = 52, V = 27 between two of them
	zoneAircraft = [3]float32{150, 50, 20}
	zoneDrone    = [3]float32{30, 15, 0.5}
	zoneNone     = [3]float32{0, 0, 0}
)

// local is a state in a local frame whose z axis is the vertical (Alt = Z,
// VRate = VZ), dt seconds after scenarioT0.
func local(zone [3]float32, dt, x, y, z, vx, vy, vz float64) abi.Vehicle {
	return abi.Vehicle{
		X: x, Y: y, Z: z, VX: vx, VY: vy, VZ: vz,
		Alt: z, VRate: vz, T: scenarioT0 + dt,
		Radius: zone[2], HSep: zone[0], VSep: zone[1],
	}
}

func conflictAt(tinMin, tinMax, riskMin, riskMax float64) Want {
	return Want{Conflict: true, RiskMin: riskMin, RiskMax: riskMax, TInMin: tinMin, TInMax: tinMax}
}

// Scenario outcomes that do not depend on the geometry.
var (
	wantLoS  = Want{Conflict: true, LoS: true, RiskMin: 1, RiskMax: 1}
	wantNone = Want{RiskMin: 0, RiskMax: 0.15}       // clear: risk <= 0.5*MinRisk
	wantZero = Want{RiskMin: 0, RiskMax: 0}          // nothing to assess
	params   = abi.Params{Horizon: 30, MinRisk: 0.3} // the configuration defaults
)

// Scenarios returns the behaviour table, freshly built (callers may modify
// it). Unless named otherwise the vehicles are of the default class (protected
// zone 50 m horizontal, 25 m vertical, hard-body radius 1 m, so R = 52 m and
// V = 27 m for a pair), states are in a local frame at the same time, and
// Params are the defaults (horizon 30 s, min risk 0.3). Expected risks follow
// from the formulas in the package documentation, with margins of about 0.005
// so that the table checks behaviour, not bits.
func Scenarios() []Scenario {
	d := zoneDefault
	s := []Scenario{
		{Name: "head-on-conflict", // closing at 40 m/s from 1000 m: entry at 948/40 = 23.7 s, dead centre
			A:    local(d, 0, 0, 0, 100, 20, 0, 0),
			B:    local(d, 0, 1000, 0, 100, -20, 0, 0),
			Want: conflictAt(23.69, 23.71, 0.80, 0.805)},
		{Name: "head-on-grazing", // 51 m lateral offset against R = 52: entry at 24.75 s, shallow
			A:    local(d, 0, 0, 0, 100, 20, 0, 0),
			B:    local(d, 0, 1000, 51, 100, -20, 0, 0),
			Want: conflictAt(24.73, 24.77, 0.585, 0.595)},
		{Name: "head-on-beyond-horizon", // entry at 48.7 s > 30 s
			A:    local(d, 0, 0, 0, 100, 20, 0, 0),
			B:    local(d, 0, 2000, 0, 100, -20, 0, 0),
			Want: wantNone},
		{Name: "los-now-same-position",
			A:    local(d, 0, 0, 0, 100, 0, 0, 0),
			B:    local(d, 0, 0, 0, 100, 0, 0, 0),
			Want: wantLoS},
		{Name: "los-now-crossing", // 30 m apart, crossing at right angles
			A:    local(d, 0, 0, 0, 100, 10, 0, 0),
			B:    local(d, 0, 30, 0, 110, 0, 10, 0),
			Want: wantLoS},
		{Name: "crossing-conflict", // both reach the origin at 20 s: entry at 18.16 s
			A:    local(d, 0, -400, 0, 120, 20, 0, 0),
			B:    local(d, 0, 0, -400, 120, 0, 20, 0),
			Want: conflictAt(18.14, 18.18, 0.845, 0.852)},
		{Name: "crossing-lateral-near-miss", // miss distance 84.9 m > 52 m
			A:    local(d, 0, -400, 0, 120, 20, 0, 0),
			B:    local(d, 0, 120, -400, 120, 0, 20, 0),
			Want: wantNone},
		{Name: "crossing-vertical-near-miss", // 40 m above, V = 27 m
			A:    local(d, 0, -400, 0, 120, 20, 0, 0),
			B:    local(d, 0, 0, -400, 160, 0, 20, 0),
			Want: wantNone},
		{Name: "overtaking", // closing at 20 m/s from 500 m behind: entry at 22.4 s
			A:    local(d, 0, 0, 0, 50, 10, 0, 0),
			B:    local(d, 0, -500, 0, 50, 30, 0, 0),
			Want: conflictAt(22.39, 22.41, 0.81, 0.816)},
		{Name: "parallel-outside", // same velocity, 100 m abreast
			A:    local(d, 0, 0, 0, 50, 15, 0, 0),
			B:    local(d, 0, 0, 100, 50, 15, 0, 0),
			Want: wantNone},
		{Name: "parallel-inside", // same velocity, 30 m abreast: in LoS for good
			A:    local(d, 0, 0, 0, 50, 15, 0, 0),
			B:    local(d, 0, 0, 30, 50, 15, 0, 0),
			Want: wantLoS},
		{Name: "diverging", // 100 m apart, moving apart
			A:    local(d, 0, 0, 0, 50, -10, 0, 0),
			B:    local(d, 0, 100, 0, 50, 10, 0, 0),
			Want: wantNone},
		{Name: "vertical-stack-separated", // hovering 100 m apart vertically
			A:    local(d, 0, 0, 0, 100, 0, 0, 0),
			B:    local(d, 0, 0, 0, 200, 0, 0, 0),
			Want: wantNone},
		{Name: "vertical-stack-closing", // climbing at 5 m/s into one 100 m above: entry at 14.6 s
			A:    local(d, 0, 0, 0, 100, 0, 0, 5),
			B:    local(d, 0, 0, 0, 200, 0, 0, 0),
			Want: conflictAt(14.59, 14.61, 0.875, 0.881)},
		{Name: "descending-through-level", // horizontal entry at 17.4 s, vertical at 17.3 s
			A:    local(d, 0, 0, 0, 300, 20, 0, 0),
			B:    local(d, 0, 400, 0, 500, 0, 0, -10),
			Want: conflictAt(17.39, 17.41, 0.852, 0.858)},
		{Name: "horizontal-pass-vertically-separated", // head-on, 100 m apart vertically
			A:    local(d, 0, 0, 0, 100, 20, 0, 0),
			B:    local(d, 0, 1000, 0, 200, -20, 0, 0),
			Want: wantNone},
		{Name: "aircraft-vs-hovering-drone", // R = 170.5 m, V = 70.5 m: entry at 19.33 s, miss 30 m
			A:    local(zoneAircraft, 0, 0, 0, 300, 250, 0, 0),
			B:    local(zoneDrone, 0, 5000, 30, 310, 0, 0, 0),
			Want: conflictAt(19.32, 19.34, 0.805, 0.815)},
		{Name: "aircraft-vs-drone-beyond-horizon", // entry at 39.3 s
			A:    local(zoneAircraft, 0, 0, 0, 300, 250, 0, 0),
			B:    local(zoneDrone, 0, 10000, 30, 310, 0, 0, 0),
			Want: wantNone},
		{Name: "older-state-propagated", // B 10 s older, at -400 m at the reference time: window 20 s, entry 11.6 s
			A:    local(d, 0, 0, 0, 100, 0, 0, 0),
			B:    local(d, -10, -700, 0, 100, 30, 0, 0),
			Want: conflictAt(11.59, 11.61, 0.90, 0.906)},
		{Name: "older-state-entry-after-window", // entry at 21.6 s inside the horizon but after the 20 s window
			A:    local(d, 0, 0, 0, 100, 0, 0, 0),
			B:    local(d, -10, -1000, 0, 100, 30, 0, 0),
			Want: wantNone},
		{Name: "window-expired", // B 40 s older than A with a 30 s horizon: nothing to assess
			A:    local(d, 0, 0, 0, 100, 0, 0, 0),
			B:    local(d, -40, 0, 0, 100, 0, 0, 0),
			Want: wantZero},
		{Name: "zero-zones-same-position", // no protected zone at all: never in LoS, risk 0
			A:    local(zoneNone, 0, 0, 0, 100, 0, 0, 0),
			B:    local(zoneNone, 0, 0, 0, 100, 0, 0, 0),
			Want: wantZero},
		{Name: "altitude-not-frame-z", // frame dz 30 m but equal altitudes: h = 50 m < 52 m, in LoS
			A: abi.Vehicle{Z: 100, Alt: 100, T: scenarioT0, Radius: 1, HSep: 50, VSep: 25,
				Flags: abi.FlagGeodetic},
			B: abi.Vehicle{X: 40, Z: 130, Alt: 100, T: scenarioT0, Radius: 1, HSep: 50, VSep: 25,
				Flags: abi.FlagGeodetic},
			Want: wantLoS},
		{Name: "scorer-ignores-acceleration", // B brakes to a stop 100 m short, but the scorer assumes constant velocity: entry 22.4 s
			A:    local(d, 0, 0, 0, 100, 0, 0, 0),
			B:    withAccel(local(d, 0, 500, 0, 100, -20, 0, 0), 2, 0, 0),
			Want: conflictAt(22.39, 22.41, 0.81, 0.816)},
	}
	for i := range s {
		s[i].Params = params
	}
	return s
}

func withAccel(v abi.Vehicle, ax, ay, az float64) abi.Vehicle {
	v.AX, v.AY, v.AZ = ax, ay, az
	v.Flags |= abi.FlagHasAccel
	return v
}

// CheckScenarios scores every scenario with s, in both pair orders, in one
// batch, and returns nil when all outcomes are as wanted, else an error
// listing every failing scenario by name. Plugin tests and the host's
// pre-activation check run it against Wasm scorers.
func CheckScenarios(ctx context.Context, s abi.Scorer) error {
	scs := Scenarios()
	var errs []error
	// One batch per distinct Params (all scenarios share the defaults today).
	for start := 0; start < len(scs); {
		end := start + 1
		for end < len(scs) && scs[end].Params == scs[start].Params {
			end++
		}
		group := scs[start:end]
		vs := make([]abi.Vehicle, 0, 2*len(group))
		ps := make([]abi.Pair, 0, 2*len(group))
		for i, sc := range group {
			vs = append(vs, sc.A, sc.B)
			ps = append(ps, abi.Pair{A: uint32(2 * i), B: uint32(2*i + 1)}, abi.Pair{A: uint32(2*i + 1), B: uint32(2 * i)})
		}
		res := make([]abi.Result, len(ps))
		if err := s.Score(ctx, group[0].Params, vs, ps, res); err != nil {
			return fmt.Errorf("builtin: scenarios: score: %w", err)
		}
		for i, sc := range group {
			if err := sc.Want.Check(res[2*i]); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", sc.Name, err))
			}
			if err := sc.Want.Check(res[2*i+1]); err != nil {
				errs = append(errs, fmt.Errorf("%s (B, A): %w", sc.Name, err))
			}
		}
		start = end
	}
	if len(errs) > 0 {
		return fmt.Errorf("builtin: %d scenario checks failed: %w", len(errs), errors.Join(errs...))
	}
	return nil
}
