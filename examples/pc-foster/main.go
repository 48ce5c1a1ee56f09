//go:build wasip1

// Command pc-foster is a probability-of-collision scorer: the risk of a pair
// is the probability that the two vehicles come within a collision radius R
// of each other, given Gaussian uncertainty of their positions, in the
// closed-form approximation of Foster's method (the "equal-area square").
//
// Model, per pair (A, B), in the ABI's pair window (SPEC.md 5.4 steps 1-2:
// T = max(A.t, B.t), both states propagated at constant velocity to T,
// window W = min(A.t, B.t) + H - T):
//   - relative position d and velocity v (B minus A); the time of closest
//     approach tca = clamp(-(d.v)/(v.v), 0, W) and the miss distance
//     dmin = |d + v*tca|, as the builtin computes them;
//   - position uncertainty: each vehicle's Sigma (1-sigma, m; when 0, the
//     configured default_sigma_m), grown linearly with the time to tca by
//     sigma_growth_mps; the combined relative uncertainty is isotropic with
//     s^2 = sA^2 + sB^2;
//   - Foster's short-encounter assumption: at tca the relative position is a
//     2D Gaussian in the encounter plane (perpendicular to v), centred dmin
//     from the origin, with standard deviation s on both axes; the
//     probability of collision is its integral over the disc of radius R;
//   - closed form: the disc is replaced by the square of the same area (side
//     sqrt(pi)*R, half-side a = sqrt(pi)/2*R), whose integral is a product of
//     error functions:
//     Pc = 1/4 * [erf((dmin+a)/(s*sqrt2)) - erf((dmin-a)/(s*sqrt2))] * 2*erf(a/(s*sqrt2)).
//     It tends to the exact value for R << s (Pc = R^2/(2 s^2) exp(-dmin^2/(2 s^2)))
//     and to 1 inside, 0 outside for R >> s; against the exact disc integral
//     (plugins/examples_more_test.go) it is within 1 % for R = 0.7 s and
//     dmin up to 2.8 s, while in the far tail, where Pc is small, its
//     relative error grows (8e-4 for 1.6e-3 at dmin = 2R = 5.7 s).
//     When the closest approach falls outside the window (tca clamped to 0 or
//     W), dmin is the 3D distance at the window's edge: larger than the miss
//     distance in the encounter plane, so an encounter outside the window
//     counts less.
//
// R is the hard-body radius A.Radius + B.Radius (config "radius":
// "hard-body", the default), or the horizontal protected zone
// max(A.HSep, B.HSep) + A.Radius + B.Radius ("radius": "protected").
//
// Result: risk = Pc; CONFLICT when Pc >= min_risk, with t_in, t_out the part
// of [0, W] where the mean relative position lies inside the sphere of
// radius R (t_in = t_out = tca when it never does: a conflict from
// uncertainty alone), and LOS when the vehicles are that close already at T.
// This is a different model from the builtin's, so its manifest does not
// claim to match it: conformance checks its outputs for ranges,
// finiteness and determinism.
//
// Configuration (JSON, every key optional):
//
//	{"radius": "hard-body" | "protected", "default_sigma_m": 10, "sigma_growth_mps": 0}
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o pc-foster.wasm .
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	cdp "github.com/collision-detection-platform/distributed-platform/sdk/go"
)

func init() {
	cdp.Register(cdp.Plugin{
		Manifest: cdp.Manifest{
			Name:        "pc-foster",
			Version:     "1.0.0",
			Description: "probability of collision under Gaussian position uncertainty (Foster, equal-area square)",
		},
		Init:  configure,
		Score: score,
	})
}

func main() {}

// config is the plugin's configuration; the zero value is never used
// (configure starts from the defaults).
type config struct {
	// Radius selects the collision radius: "hard-body" (default) or "protected".
	Radius string `json:"radius"`
	// DefaultSigma is the 1-sigma position uncertainty, m, of a vehicle whose
	// Sigma is 0 (unknown). Default 10; must be > 0.
	DefaultSigma float64 `json:"default_sigma_m"`
	// SigmaGrowth adds uncertainty with the time to tca, m/s:
	// sigma(t) = sqrt(sigma^2 + (growth*t)^2). Default 0; must be >= 0.
	SigmaGrowth float64 `json:"sigma_growth_mps"`
}

var cfg = config{Radius: "hard-body", DefaultSigma: 10}

func configure(raw []byte) error {
	c := config{Radius: "hard-body", DefaultSigma: 10}
	if len(bytes.TrimSpace(raw)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return fmt.Errorf("pc-foster: config: %w", err)
		}
	}
	switch {
	case c.Radius != "hard-body" && c.Radius != "protected":
		return fmt.Errorf("pc-foster: config: radius = %q, want \"hard-body\" or \"protected\"", c.Radius)
	case !(c.DefaultSigma > 0) || math.IsInf(c.DefaultSigma, 0):
		return fmt.Errorf("pc-foster: config: default_sigma_m = %v, want a finite value > 0", c.DefaultSigma)
	case !(c.SigmaGrowth >= 0) || math.IsInf(c.SigmaGrowth, 0):
		return errors.New("pc-foster: config: sigma_growth_mps must be finite and >= 0")
	}
	cfg = c
	return nil
}

const eps = 1e-12

// fmin and fmax are branch-free: Go's Wasm output turns the min and max
// builtins on floats into runtime calls, and every call and branch pays the
// host's deadline check, while a select of the bit patterns compiles to a
// Wasm select. (The scorer never sees NaN: the host's inputs are finite.)
func fmin(x, y float64) float64 {
	a, b := math.Float64bits(x), math.Float64bits(y)
	if y < x {
		a = b
	}
	return math.Float64frombits(a)
}

func fmax(x, y float64) float64 {
	a, b := math.Float64bits(x), math.Float64bits(y)
	if y > x {
		a = b
	}
	return math.Float64frombits(a)
}

func sigmaOf(v *cdp.Vehicle, dt float64) float64 {
	s := float64(v.Sigma)
	if s <= 0 {
		s = cfg.DefaultSigma
	}
	g := cfg.SigmaGrowth * dt
	return s*s + g*g // variance
}

func score(pr cdp.Pair) cdp.Result {
	a, b, p := pr.A, pr.B, pr.Params
	t := fmax(a.T, b.T)
	dtA, dtB := t-a.T, t-b.T
	w := fmin(a.T, b.T) + p.Horizon - t
	dx := (b.X + b.VX*dtB) - (a.X + a.VX*dtA)
	dy := (b.Y + b.VY*dtB) - (a.Y + a.VY*dtA)
	dw := (b.Z + b.VZ*dtB) - (a.Z + a.VZ*dtA)
	vx, vy, vw := b.VX-a.VX, b.VY-a.VY, b.VZ-a.VZ
	dd := dx*dx + dy*dy + dw*dw
	dv := dx*vx + dy*vy + dw*vw
	vv := vx*vx + vy*vy + vw*vw
	if w < 0 {
		return cdp.Result{DMin: math.Sqrt(dd), TIn: -1, TOut: -1}
	}
	tca := 0.0
	if vv > eps {
		tca = fmin(fmax(-dv/vv, 0), w)
	}
	ex, ey, ew := dx+vx*tca, dy+vy*tca, dw+vw*tca
	dmin := math.Sqrt(ex*ex + ey*ey + ew*ew)

	r := float64(a.Radius) + float64(b.Radius)
	if cfg.Radius == "protected" {
		r += fmax(float64(a.HSep), float64(b.HSep))
	}
	// The uncertainty at tca: each state's, grown over its own age at tca.
	s := math.Sqrt(sigmaOf(a, dtA+tca) + sigmaOf(b, dtB+tca))
	pc := 0.0
	if r > 0 {
		k := 1 / (s * math.Sqrt2)
		half := math.Sqrt(math.Pi) / 2 * r
		pc = 0.25 * (math.Erf((dmin+half)*k) - math.Erf((dmin-half)*k)) * 2 * math.Erf(half*k)
		pc = fmin(fmax(pc, 0), 1)
	}
	res := cdp.Result{Risk: pc, TCA: tca, DMin: dmin, TIn: -1, TOut: -1}
	if pc < p.MinRisk {
		return res
	}
	// Conflict: the part of [0, W] where |d + v t| < r, else [tca, tca].
	res.Flags = cdp.ResultConflict
	res.TIn, res.TOut = tca, tca
	if vv > eps {
		if disc := dv*dv - vv*(dd-r*r); disc > 0 {
			sq := math.Sqrt(disc)
			t1, t2 := fmax((-dv-sq)/vv, 0), fmin((-dv+sq)/vv, w)
			if t1 < t2 {
				res.TIn, res.TOut = t1, t2
			}
		}
	} else if dd < r*r {
		res.TIn, res.TOut = 0, w
	}
	if res.TIn == 0 && dd < r*r {
		res.Flags |= cdp.ResultLoS
	}
	return res
}
