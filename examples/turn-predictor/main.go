//go:build wasip1

// Command turn-predictor is a constant-turn-rate predictor: each vehicle
// keeps its speed and turns at a constant rate over the horizon, so its
// path is an arc of a circle (a helix when it also climbs).
//
// Where the turn rate comes from. One state (position, velocity) cannot
// tell a turn from a straight line, so the rate is taken, per vehicle:
//   - from its acceleration, when the state has one (VEHICLE_HAS_ACCEL):
//     the velocity vector turns with angular velocity w = (v x a) / |v|^2,
//     whose magnitude is a_perp / |v|, the part of the acceleration
//     perpendicular to the velocity over the speed; the along-track part
//     (speeding up, slowing down) is ignored, the speed stays |v|. The turn
//     is about the axis of w, in the plane of v and a_perp, so it needs no
//     notion of "up" and holds in any frame (ENU or ECEF);
//   - otherwise from the configuration: turn_rate_dps degrees per second
//     about the frame's z axis, positive counter-clockwise seen from +z (a
//     left turn in an ENU frame, where z is up near the origin); the
//     vertical velocity is kept (a helix). Default 0: a straight line.
//
// "source" chooses: "auto" (default; acceleration where there is one, else
// the configured rate), "accel" (acceleration only; straight without it) or
// "config" (the configured rate for every vehicle). Rates are capped at
// max_turn_rate_dps (default 30; the acceleration of a noisy track can
// imply absurd ones).
//
// Output (SPEC.md 6): the samples at t + k*H/S on the arc, and a box that
// holds the whole arc (per axis: the range of the along-axis drift plus the
// exact range of the circular part over the swept angle, padded for
// rounding) and, because a constant-velocity scorer such as the builtin may
// score the pairs this predictor feeds to the grid, also the straight
// constant-velocity path; it contains the current position and every sample.
// The manifest does not claim to match the builtin predictor.
//
// Configuration (JSON, every key optional):
//
//	{"source": "auto" | "accel" | "config", "turn_rate_dps": 0, "max_turn_rate_dps": 30}
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o turn-predictor.wasm .
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"

	cdp "github.com/collision-detection-platform/distributed-platform/sdk/go"
)

func init() {
	cdp.Register(cdp.Plugin{
		Manifest: cdp.Manifest{
			Name:        "turn-predictor",
			Version:     "1.0.0",
			Description: "constant turn rate: from the acceleration perpendicular to the velocity, or a configured rate",
		},
		Init:    configure,
		Predict: predict,
	})
}

func main() {}

// config is the plugin's configuration.
type config struct {
	// Source of the turn rate: "auto" (default), "accel" or "config".
	Source string `json:"source"`
	// TurnRate, degrees per second about the frame's z axis, counter-clockwise
	// positive. Default 0.
	TurnRate float64 `json:"turn_rate_dps"`
	// MaxTurnRate caps every rate, degrees per second. Default 30; > 0.
	MaxTurnRate float64 `json:"max_turn_rate_dps"`
}

var cfg = config{Source: "auto", MaxTurnRate: 30}

func configure(raw []byte) error {
	c := config{Source: "auto", MaxTurnRate: 30}
	if len(bytes.TrimSpace(raw)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return fmt.Errorf("turn-predictor: config: %w", err)
		}
	}
	switch {
	case c.Source != "auto" && c.Source != "accel" && c.Source != "config":
		return fmt.Errorf("turn-predictor: config: source = %q, want \"auto\", \"accel\" or \"config\"", c.Source)
	case math.IsNaN(c.TurnRate) || math.IsInf(c.TurnRate, 0):
		return fmt.Errorf("turn-predictor: config: turn_rate_dps = %v, want a finite number", c.TurnRate)
	case !(c.MaxTurnRate > 0) || math.IsInf(c.MaxTurnRate, 0):
		return fmt.Errorf("turn-predictor: config: max_turn_rate_dps = %v, want a finite value > 0", c.MaxTurnRate)
	}
	cfg = c
	return nil
}

type vec struct{ x, y, z float64 }

func (u vec) add(w vec) vec       { return vec{u.x + w.x, u.y + w.y, u.z + w.z} }
func (u vec) sub(w vec) vec       { return vec{u.x - w.x, u.y - w.y, u.z - w.z} }
func (u vec) scale(k float64) vec { return vec{u.x * k, u.y * k, u.z * k} }
func (u vec) dot(w vec) float64   { return u.x*w.x + u.y*w.y + u.z*w.z }
func (u vec) cross(w vec) vec     { return vec{u.y*w.z - u.z*w.y, u.z*w.x - u.x*w.z, u.x*w.y - u.y*w.x} }
func (u vec) norm() float64       { return math.Sqrt(u.dot(u)) }

// fmin and fmax are branch-free: Go's Wasm output turns the min and max
// builtins on floats into runtime calls, and every call and branch pays the
// host's deadline check, while a select of the bit patterns compiles to a
// Wasm select. (The predictor never sees NaN: the host's inputs are finite.)
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

func vmin(u, w vec) vec { return vec{fmin(u.x, w.x), fmin(u.y, w.y), fmin(u.z, w.z)} }
func vmax(u, w vec) vec { return vec{fmax(u.x, w.x), fmax(u.y, w.y), fmax(u.z, w.z)} }

// motion is a constant-turn trajectory:
//
//	p(t) = p0 + par*t + (perp*sin(w t) + side*(1 - cos(w t))) / w
//
// with side = k x perp for the unit turn axis k; w = 0 is the straight line
// p0 + perp*t.
type motion struct {
	p0, par, perp, side vec
	w                   float64 // rad/s, signed
}

// minTurn is the slowest turn, rad/s, that is not flown as a straight line
// (below it the arc and the line differ by less than a micrometre per m/s
// over an hour, and (1 - cos) / w would lose its precision).
const minTurn = 1e-9

func newMotion(v *cdp.Vehicle) motion {
	vel := vec{v.VX, v.VY, v.VZ}
	m := motion{p0: vec{v.X, v.Y, v.Z}, perp: vel}
	limit := cfg.MaxTurnRate * math.Pi / 180
	var axis vec
	switch {
	case v.Flags&cdp.FlagHasAccel != 0 && cfg.Source != "config":
		vv := vel.dot(vel)
		if vv <= 1e-12 {
			return m // no heading to turn
		}
		om := vel.cross(vec{v.AX, v.AY, v.AZ}).scale(1 / vv) // |om| = a_perp/|v|
		n := om.norm()
		if n < minTurn {
			return m
		}
		axis, m.w = om.scale(1/n), fmin(n, limit)
	case cfg.Source != "accel" && math.Abs(cfg.TurnRate*math.Pi/180) >= minTurn:
		axis = vec{0, 0, 1}
		m.w = fmax(-limit, fmin(cfg.TurnRate*math.Pi/180, limit))
	default:
		return m
	}
	m.par = axis.scale(vel.dot(axis))
	m.perp = vel.sub(m.par)
	m.side = axis.cross(m.perp)
	return m
}

// inArc reports whether the direction (ux, uy) at angle psi lies on the arc
// of angles from 0 to phi (either sign), where (cphi, sphi) = (cos, sin)(phi).
// Written with cross products rather than angles: math.Atan2 is slow in Go's
// Wasm, where every branch pays the host's deadline check.
func inArc(ux, uy, phi, cphi, sphi float64) bool {
	if math.Abs(phi) >= 2*math.Pi {
		return true
	}
	if phi < 0 { // mirror, so that the arc runs counter-clockwise
		uy, sphi, phi = -uy, -sphi, -phi
	}
	if phi <= math.Pi {
		return uy >= 0 && ux*sphi-uy*cphi >= 0
	}
	return !(cphi*uy-sphi*ux > 0 && uy < 0)
}

// axisRange is the range over [0, hz] of one axis of the trajectory, with
// p0, par, perp and side its components: the drift's range plus the circular
// part's, C(th) = (perp sin th + side (1 - cos th)) / w for th from 0 to
// phi = w*hz, whose extremes are at the ends and where its derivative
// vanishes: at cos th = side/M, sin th = -perp/M (value (side - M)/w) and
// opposite (value (side + M)/w), M = hypot(perp, side).
func (m *motion) axisRange(p0, par, perp, side, hz, phi, cphi, sphi float64) (lo, hi float64) {
	d := par * hz
	lo, hi = p0+fmin(0, d), p0+fmax(0, d)
	if m.w == 0 {
		e := perp * hz
		return lo + fmin(0, e), hi + fmax(0, e)
	}
	ce := (perp*sphi + side*(1-cphi)) / m.w
	cl, ch := fmin(0, ce), fmax(0, ce)
	if mm := math.Sqrt(perp*perp + side*side); mm > 0 {
		ux, uy := side/mm, -perp/mm
		if inArc(ux, uy, phi, cphi, sphi) {
			c := (side - mm) / m.w
			cl, ch = fmin(cl, c), fmax(ch, c)
		}
		if inArc(-ux, -uy, phi, cphi, sphi) {
			c := (side + mm) / m.w
			cl, ch = fmin(cl, c), fmax(ch, c)
		}
	}
	return lo + cl, hi + ch
}

func predict(v *cdp.Vehicle, p *cdp.Params, out *cdp.Box, samples []cdp.Point) {
	hz := p.Horizon
	m := newMotion(v)
	phi := m.w * hz
	sphi, cphi := math.Sincos(phi)
	var lo, hi vec
	lo.x, hi.x = m.axisRange(m.p0.x, m.par.x, m.perp.x, m.side.x, hz, phi, cphi, sphi)
	lo.y, hi.y = m.axisRange(m.p0.y, m.par.y, m.perp.y, m.side.y, hz, phi, cphi, sphi)
	lo.z, hi.z = m.axisRange(m.p0.z, m.par.z, m.perp.z, m.side.z, hz, phi, cphi, sphi)
	// Rounding allowance: the box's sums and the samples' are computed in
	// different orders.
	pad := 1e-9 * (fmax(fmax(math.Abs(v.X), math.Abs(v.Y)), math.Abs(v.Z)) + (vec{v.VX, v.VY, v.VZ}).norm()*hz + 1)
	lo, hi = lo.sub(vec{pad, pad, pad}), hi.add(vec{pad, pad, pad})
	// The straight constant-velocity path too: a constant-velocity scorer
	// may score what this box lets through the grid.
	e := vec{v.X + v.VX*hz, v.Y + v.VY*hz, v.Z + v.VZ*hz}
	lo, hi = vmin(lo, e), vmax(hi, e)
	if n := len(samples); n > 0 {
		// Samples at t_k = k*step: the angle advances by w*step per sample,
		// so sin and cos follow by rotation instead of a math.Sincos each.
		step := hz / float64(n)
		sd, cd := math.Sincos(m.w * step)
		s, c := 0.0, 1.0
		for k := range samples {
			s, c = s*cd+c*sd, c*cd-s*sd
			t := float64(k+1) * step
			q := m.p0.add(m.perp.scale(t))
			if m.w != 0 {
				q = m.p0.add(m.par.scale(t)).add(m.perp.scale(s / m.w)).add(m.side.scale((1 - c) / m.w))
			}
			samples[k] = cdp.Point{X: q.x, Y: q.y, Z: q.z}
			lo, hi = vmin(lo, q), vmax(hi, q)
		}
	}
	*out = cdp.Box{MinX: lo.x, MinY: lo.y, MinZ: lo.z, MaxX: hi.x, MaxY: hi.y, MaxZ: hi.z}
}
