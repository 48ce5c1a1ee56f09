package builtin_test

import (
	"math"
	"math/rand/v2"

	"github.com/collision-detection-platform/distributed-platform/abi"
)

// Randomized traffic for the property tests and the benchmarks.

const t0 = 1_764_115_200.0 // a realistic Unix time: state times carry its rounding

// zones are protected zones of assorted classes: HSep, VSep, Radius.
var zones = [][3]float32{
	{50, 25, 1},     // default
	{150, 50, 20},   // aircraft
	{30, 15, 0.5},   // drone
	{10, 5, 0},      // small drone, no hard body
	{0, 0, 0},       // no zone at all
	{0, 0, 3},       // hard body only
	{1852, 152, 30}, // 1 NM / 500 ft
}

// pairKinds name the generator's encounter geometries.
var pairKinds = []string{
	"head-on", "crossing", "overtaking", "parallel", "stacked",
	"hovering", "fast-vs-slow", "random",
}

// frame is a local vertical: n is the unit up vector in frame coordinates,
// alt0 the altitude of the frame origin. Alt = n.p + alt0, VRate = n.v, so the
// frame's z axis may tilt away from the vertical (as it does away from the
// ENU origin) while horizontal and vertical distances stay consistent.
type frame struct {
	n    [3]float64
	alt0 float64
}

func randomFrame(rng *rand.Rand) frame {
	if rng.IntN(2) == 0 {
		return frame{n: [3]float64{0, 0, 1}}
	}
	tilt := rng.Float64() * 0.5 * math.Pi / 180 // up to 0.5 degree, 55 km from the origin
	if rng.IntN(8) == 0 {
		tilt = rng.Float64() * 0.5 // up to 29 degrees: a stress case
	}
	az := rng.Float64() * 2 * math.Pi
	return frame{
		n:    [3]float64{math.Sin(tilt) * math.Cos(az), math.Sin(tilt) * math.Sin(az), math.Cos(tilt)},
		alt0: rng.Float64()*200 - 100,
	}
}

func (f frame) vehicle(zone [3]float32, tm, x, y, z, vx, vy, vz float64) abi.Vehicle {
	return abi.Vehicle{
		X: x, Y: y, Z: z, VX: vx, VY: vy, VZ: vz,
		Alt:    f.n[0]*x + f.n[1]*y + f.n[2]*z + f.alt0,
		VRate:  f.n[0]*vx + f.n[1]*vy + f.n[2]*vz,
		T:      tm,
		Radius: zone[2], HSep: zone[0], VSep: zone[1],
		Flags: abi.FlagGeodetic,
	}
}

func randSpeed(rng *rand.Rand) float64 {
	switch rng.IntN(4) {
	case 0:
		return rng.Float64() * 2 // near hover
	case 1:
		return rng.Float64() * 20 // drone
	case 2:
		return 20 + rng.Float64()*60 // car, helicopter
	}
	return 60 + rng.Float64()*200 // aircraft
}

func randHeading(rng *rand.Rand, speed, climbMax float64) [3]float64 {
	a := rng.Float64() * 2 * math.Pi
	return [3]float64{speed * math.Cos(a), speed * math.Sin(a), (rng.Float64()*2 - 1) * climbMax}
}

// randomPair returns an encounter of the given kind: B passes A at a random
// offset (horizontal up to about 1.5R, vertical up to about 1.5V) at a random
// time in [-0.2H, 1.2H] after the later state time, so that the sample holds
// conflicts, losses of separation now, near misses and clear pairs. The state
// times differ by up to 1.2H, so some windows are empty.
func randomPair(rng *rand.Rand, kind string, h float64) (a, b abi.Vehicle) {
	f := randomFrame(rng)
	za, zb := zones[rng.IntN(len(zones))], zones[rng.IntN(len(zones))]
	r := float64(max(za[0], zb[0]) + za[2] + zb[2])
	vsep := float64(max(za[1], zb[1]) + za[2] + zb[2])

	va := randHeading(rng, randSpeed(rng), 5)
	var vb [3]float64
	switch kind {
	case "head-on":
		k := 0.5 + rng.Float64()*1.5
		vb = [3]float64{-va[0] * k, -va[1] * k, -va[2]*k + rng.NormFloat64()}
	case "crossing":
		ang := (30 + rng.Float64()*120) * math.Pi / 180
		if rng.IntN(2) == 0 {
			ang = -ang
		}
		k := 0.5 + rng.Float64()*1.5
		c, s := math.Cos(ang), math.Sin(ang)
		vb = [3]float64{k * (c*va[0] - s*va[1]), k * (s*va[0] + c*va[1]), rng.NormFloat64() * 3}
	case "overtaking":
		k := 1.2 + rng.Float64()*2
		vb = [3]float64{va[0] * k, va[1] * k, va[2]}
	case "parallel":
		vb = va
	case "stacked":
		va[2] = (rng.Float64()*2 - 1) * 8
		vb = [3]float64{va[0], va[1], (rng.Float64()*2 - 1) * 8}
	case "hovering":
		switch rng.IntN(3) {
		case 0: // A hovers, B moves
			va, vb = [3]float64{}, randHeading(rng, randSpeed(rng), 5)
		case 1: // B hovers
		default: // both hover
			va = [3]float64{}
		}
	case "fast-vs-slow":
		va = randHeading(rng, 150+rng.Float64()*100, 10)
		vb = randHeading(rng, rng.Float64()*15, 3)
	default:
		vb = randHeading(rng, randSpeed(rng), 10)
	}

	// State times: the later one is t0; the other is up to 1.2H older.
	ta, tb := t0, t0
	if rng.IntN(2) == 0 {
		old := rng.Float64() * 1.2 * h
		if rng.IntN(4) == 0 {
			old = 0
		}
		if rng.IntN(2) == 0 {
			ta -= old
		} else {
			tb -= old
		}
	}

	pa := [3]float64{rng.Float64()*4000 - 2000, rng.Float64()*4000 - 2000, rng.Float64() * 500}
	tm := (rng.Float64()*1.4 - 0.2) * h // meeting time after t0
	off := [3]float64{(rng.Float64()*2 - 1) * 1.5 * r, (rng.Float64()*2 - 1) * 1.5 * r, (rng.Float64()*2 - 1) * 1.5 * vsep}
	if kind == "stacked" {
		off = [3]float64{(rng.Float64()*2 - 1) * r, (rng.Float64()*2 - 1) * r, (rng.Float64()*2 - 1) * 6 * vsep}
	}
	// Position of A at t0 + tm, then B there plus the offset, then B back to tb.
	var pb [3]float64
	for i := range 3 {
		atm := pa[i] + va[i]*(t0+tm-ta)
		pb[i] = atm + off[i] - vb[i]*(t0+tm-tb)
	}
	a = f.vehicle(za, ta, pa[0], pa[1], pa[2], va[0], va[1], va[2])
	b = f.vehicle(zb, tb, pb[0], pb[1], pb[2], vb[0], vb[1], vb[2])
	if rng.IntN(8) == 0 { // an acceleration the scorer must ignore
		a.AX, a.AY, a.AZ = rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()
		a.Flags |= abi.FlagHasAccel
	}
	return a, b
}

// randomBatch returns nv vehicles and np pairs drawn from randomPair
// encounters (so that the batch holds the same mix of outcomes) with each
// pair indexing two vehicles of the table.
func randomBatch(rng *rand.Rand, nv, np int, h float64) ([]abi.Vehicle, []abi.Pair) {
	vs := make([]abi.Vehicle, 0, nv+1)
	for len(vs) < nv {
		a, b := randomPair(rng, pairKinds[rng.IntN(len(pairKinds))], h)
		vs = append(vs, a, b)
	}
	vs = vs[:nv]
	ps := make([]abi.Pair, np)
	for i := range ps {
		// Mostly encounter partners (adjacent), sometimes any two vehicles.
		j := uint32(rng.IntN(nv/2) * 2)
		ps[i] = abi.Pair{A: j, B: j + 1}
		if rng.IntN(4) == 0 {
			ps[i] = abi.Pair{A: uint32(rng.IntN(nv)), B: uint32(rng.IntN(nv))}
		}
	}
	return vs, ps
}
