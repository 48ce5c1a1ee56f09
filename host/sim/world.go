package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Kind is what a simulated vehicle is and, for drones, which pattern it flies.
type Kind uint8

// Vehicle kinds. The staged kinds fly in groups (Info.Group) whose members
// meet again and again; a risk between two members of one group is an
// encounter of that kind.
const (
	KindDrone      Kind = iota // "drone": a drone on a waypoint loop (background traffic)
	KindHub                    // "hub": a drone shuttling from a vertiport (dense hotspot)
	KindCrossing               // "crossing": two drones whose tracks cross at 60-120 degrees
	KindHeadOn                 // "head-on": two drones on one track in opposite directions
	KindOvertaking             // "overtaking": a fast drone passing a slow one 10-30 m abeam
	KindStacked                // "stacked": three drones on one track 10-20 m above each other
	KindHelicopter             // "helicopter": 40-55 m/s, 300-900 m, waypoint loop
	KindAircraft               // "aircraft": a light aircraft, 45-70 m/s, 500-1500 m
	numKinds
)

var kindNames = [numKinds]string{"drone", "hub", "crossing", "head-on", "overtaking", "stacked", "helicopter", "aircraft"}

// idPrefix is the kind's part of a vehicle id: sim-<prefix>-0001.
var idPrefix = [numKinds]string{"drone", "hub", "cross", "headon", "overtake", "stack", "heli", "plane"}

// String returns the kind's name, e.g. "head-on".
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "unknown"
}

// Staged reports whether vehicles of the kind fly in staged encounter groups
// (crossing, head-on, overtaking, stacked) or around a vertiport (hub).
func (k Kind) Staged() bool { return k >= KindHub && k <= KindStacked }

// Info describes one simulated vehicle.
type Info struct {
	// ID is the vehicle id on the wire: sim-<kind>-<number>[member], e.g.
	// "sim-drone-0042", "sim-heli-0003", "sim-cross-0002b", "sim-hub-0117".
	ID   string
	Kind Kind
	// Group is the staged encounter group (from 1, numbered per kind) or, for
	// KindHub, the vertiport (from 1); 0 for unstaged vehicles.
	Group int
}

// Point is a WGS84 position, degrees.
type Point struct{ Lat, Lon float64 }

// Region is the extent of a simulated world.
type Region struct {
	// HalfWidth: drones fly within ±HalfWidth metres east and north of the
	// origin (on the simulator's flat map; see RATIONALE.md).
	HalfWidth float64
	// AircraftHalfWidth: helicopters and aircraft fly within ±this, m.
	AircraftHalfWidth float64
	// Vertiports are the hotspots where hub drones converge.
	Vertiports []Point
}

// Traffic parameters (see doc.go for the picture they draw).
const (
	density     = 2.0                // vehicles per km², background and staged drones
	minHalf     = 1500.0             // smallest drone area half-width, m
	droneOmega  = 20 * math.Pi / 180 // drone turn rate bound, rad/s
	heliOmega   = 6 * math.Pi / 180
	planeOmega  = 4 * math.Pi / 180
	droneVZ     = 2.5 // drone vertical rate bound, m/s
	aircraftVZ  = 5.0
	minRadius   = 15.0 // smallest turn radius, m
	earlyMin    = 6.0  // the first staged encounters meet between earlyMin
	earlyMax    = 14.0 // and earlyMax seconds after Start
	hubEarly    = 4    // drones per vertiport staged to converge early
	perGroupDiv = 100  // one group of each staged kind per this many vehicles
)

// counts is how a world of n vehicles divides.
type counts struct {
	groups     [numKinds]int // staged groups of KindCrossing..KindStacked
	hubs       int           // vertiports
	hubDrones  int
	helis      int
	planes     int
	background int
}

var groupSize = [numKinds]int{KindCrossing: 2, KindHeadOn: 2, KindOvertaking: 2, KindStacked: 3}

func plan(n int) counts {
	var c counts
	left := n
	g := max(1, n/perGroupDiv)
	for k := KindCrossing; k <= KindStacked; k++ {
		c.groups[k] = min(g, left/groupSize[k])
		left -= c.groups[k] * groupSize[k]
	}
	if n >= 30 {
		a := min(left, max(2, n*3/100))
		c.helis = a / 2
		c.planes = a - c.helis
		left -= a
	}
	if n >= 40 {
		c.hubs = max(1, n/150)
		c.hubDrones = min(left, n/8)
		left -= c.hubDrones
	}
	c.background = left
	return c
}

// vehicle is one simulated vehicle: a route flown at speed v from distance
// s0 at time zero, optionally with a varying lag behind that schedule, and
// placed by an orthonormal transform (a mirror image for the crossing and
// head-on partners) plus an offset.
type vehicle struct {
	rt                 *route
	cur                int32 // segment hint for route.at
	s0, v              float64
	m00, m01, m10, m11 float64
	ox, oy, oalt       float64
	// lag(t) = lagAmp (1 - cos(lagW (t - lagT0))) / 2 seconds behind schedule
	lagAmp, lagW, lagT0 float64
}

// state is the vehicle at time t (seconds from Start): position on the flat
// map (m east, north), altitude (m) and velocity (m/s east, north, up).
func (v *vehicle) state(t float64) (x, y, alt, vx, vy, vz float64) {
	s := v.s0 + v.v*t
	speed := v.v
	if v.lagAmp != 0 {
		sin, cos := math.Sincos(v.lagW * (t - v.lagT0))
		s -= v.v * v.lagAmp * (1 - cos) / 2
		speed *= 1 - v.lagAmp*v.lagW*sin/2
	}
	l := v.rt.length
	if s >= l || s < 0 {
		s = math.Mod(s, l)
		if s < 0 {
			s += l
		}
	}
	px, py, palt, dx, dy, climb := v.rt.at(s, &v.cur)
	x = v.m00*px + v.m01*py + v.ox
	y = v.m10*px + v.m11*py + v.oy
	vx = speed * (v.m00*dx + v.m01*dy)
	vy = speed * (v.m10*dx + v.m11*dy)
	return x, y, palt + v.oalt, vx, vy, speed * climb
}

// plain returns a vehicle flying rt untransformed.
func plain(rt *route, s0, v float64) vehicle {
	return vehicle{rt: rt, s0: s0, v: v, m00: 1, m11: 1}
}

// mirror returns the mirror image of leader across the line through (qx,
// qy) at angle psi (radians from east): the partner that is wherever the
// leader is whenever the leader is on that line.
func mirror(leader vehicle, qx, qy, psi float64) vehicle {
	sin2, cos2 := math.Sincos(2 * psi)
	m := leader
	// The leader is identity-transformed; the mirror is M p + (q - M q).
	m.m00, m.m01, m.m10, m.m11 = cos2, sin2, sin2, -cos2
	m.ox = qx - (cos2*qx + sin2*qy)
	m.oy = qy - (sin2*qx - cos2*qy)
	return m
}

// world builds the vehicles of a Config.
type world struct {
	rng       *rand.Rand
	half      float64 // drone area half-width, m
	airHalf   float64 // aircraft area half-width, m
	veh       []vehicle
	info      []Info
	hubs      [][2]float64
	hubMeet   []float64 // when each vertiport's early drones converge, s
	numbering [numKinds]int
}

func (w *world) uniform(lo, hi float64) float64 { return lo + (hi-lo)*w.rng.Float64() }

// point returns a uniform point at least margin inside the square of
// half-width h.
func (w *world) point(h, margin float64) (x, y float64) {
	m := max(0, h-margin)
	return w.uniform(-m, m), w.uniform(-m, m)
}

func (w *world) add(v vehicle, kind Kind, group int, member string) {
	num := group // staged members are named by group and member
	if member == "" {
		w.numbering[kind]++
		num = w.numbering[kind]
	}
	w.veh = append(w.veh, v)
	w.info = append(w.info, Info{ID: fmt.Sprintf("sim-%s-%04d%s", idPrefix[kind], num, member), Kind: kind, Group: group})
}

func build(n int, seed uint64) *world {
	c := plan(n)
	staged := 0
	for k := range c.groups {
		staged += c.groups[k] * groupSize[k]
	}
	area := float64(c.background+staged) / density // km²
	half := max(minHalf, math.Sqrt(area)*1000/2)
	w := &world{
		rng:     rand.New(rand.NewPCG(seed, 0x5eed_c0ffee_cd9)),
		half:    half,
		airHalf: max(1.5*half, 8000),
	}
	for k := KindCrossing; k <= KindStacked; k++ {
		for g := 1; g <= c.groups[k]; g++ {
			w.staged(k, g, g == 1)
		}
	}
	for h := 1; h <= c.hubs; h++ {
		x, y := w.point(half, 1000)
		w.hubs = append(w.hubs, [2]float64{x, y})
		w.hubMeet = append(w.hubMeet, w.uniform(earlyMin, earlyMax))
	}
	for i := 0; i < c.hubDrones; i++ {
		h := i % c.hubs
		w.hubDrone(h, i/c.hubs < hubEarly)
	}
	for i := 0; i < c.helis; i++ {
		w.aircraft(KindHelicopter)
	}
	for i := 0; i < c.planes; i++ {
		w.aircraft(KindAircraft)
	}
	for i := 0; i < c.background; i++ {
		w.drone()
	}
	w.compact()
	return w
}

// compact moves the routes and their segments into two arrays in vehicle
// order: Step walks the vehicles in order, so their routes are then read
// from memory in order too, and the world holds no slack capacity.
func (w *world) compact() {
	index := make(map[*route]int, len(w.veh))
	nseg := 0
	for i := range w.veh {
		if _, ok := index[w.veh[i].rt]; !ok {
			index[w.veh[i].rt] = len(index)
			nseg += len(w.veh[i].rt.segs)
		}
	}
	routes := make([]route, len(index))
	segs := make([]seg, 0, nseg)
	for i := range w.veh {
		old := w.veh[i].rt
		j := index[old]
		if routes[j].segs == nil {
			start := len(segs)
			segs = append(segs, old.segs...)
			routes[j] = route{segs: segs[start:len(segs):len(segs)], length: old.length}
		}
		w.veh[i].rt = &routes[j]
	}
}

// turnRadius is the radius a vehicle at speed v turns on at rate omega.
func turnRadius(v, omega float64) float64 { return max(minRadius, v/omega) }

// staged adds encounter group g of kind k. Every group flies a level
// racetrack (the holding pattern of a drone corridor); early groups are
// phased to meet within [earlyMin, earlyMax] s, the others at random.
func (w *world) staged(k Kind, g int, early bool) {
	tMeet := w.uniform(earlyMin, earlyMax)
	alt := w.uniform(40, 100)
	hdg := w.uniform(-math.Pi, math.Pi)
	left := w.rng.IntN(2) == 0
	cs, sn := math.Cos(hdg), math.Sin(hdg)
	nx, ny := -sn, cs // left normal
	if !left {
		nx, ny = sn, -cs
	}
	switch k {
	case KindCrossing, KindHeadOn:
		v := w.uniform(8, 18)
		r := turnRadius(v, droneOmega)
		a := w.uniform(max(250, v*earlyMax+50), 600)
		cx, cy := w.point(w.half, a+2*r+50)
		rt := racetrack(cx-a*cs, cy-a*sn, alt, hdg, a, r, 0, left)
		s0 := a - v*tMeet // at the leg's midpoint (cx, cy) at tMeet
		if !early {
			s0 = w.uniform(0, rt.length)
		}
		lead := plain(rt, s0, v)
		psi := hdg + math.Pi/2 // head-on: mirror across the leg's perpendicular
		if k == KindCrossing {
			psi = hdg + w.uniform(30, 60)*math.Pi/180
			if w.rng.IntN(2) == 0 {
				psi = hdg - (psi - hdg)
			}
		}
		part := mirror(lead, cx, cy, psi)
		// A miss distance of up to 20 m and 8 m: close, but not a collision.
		miss, dir := w.uniform(0, 20), w.uniform(-math.Pi, math.Pi)
		part.ox += miss * math.Cos(dir)
		part.oy += miss * math.Sin(dir)
		part.oalt = w.uniform(-8, 8)
		w.add(lead, k, g, "a")
		w.add(part, k, g, "b")
	case KindOvertaking:
		slow := w.uniform(6, 11)
		fast := slow + w.uniform(5, 8)
		d := w.uniform(10, 30) // abeam distance, outside the slow one's turns
		r := turnRadius(fast, droneOmega)
		// Passes recur about every lap length / (fast - slow): 3-6 minutes.
		a := w.uniform(max(300, (fast-slow)*earlyMax/2+slow*earlyMax/2+100), 500)
		cx, cy := w.point(w.half, a+2*r+d+50)
		inner := racetrack(cx-a*cs, cy-a*sn, alt, hdg, a, r, 0, left)
		outer := racetrack(cx-a*cs-d*nx, cy-a*sn-d*ny, alt+w.uniform(-3, 3), hdg, a, r+d, 0, left)
		// Both on the first leg, the fast one (fast-slow)*tMeet behind,
		// placed so that the pass happens mid-leg.
		xs := a - slow*tMeet/2 + (fast-slow)*tMeet/2 // distance along the leg at 0
		sSlow, sFast := xs, xs-(fast-slow)*tMeet
		if !early {
			sSlow, sFast = w.uniform(0, inner.length), w.uniform(0, outer.length)
		}
		w.add(plain(inner, sSlow, slow), k, g, "a")
		w.add(plain(outer, sFast, fast), k, g, "b")
	case KindStacked:
		v := w.uniform(7, 15)
		r := turnRadius(v*1.25, droneOmega)
		a := w.uniform(250, 600)
		cx, cy := w.point(w.half, a+2*r+50)
		rt := racetrack(cx-a*cs, cy-a*sn, w.uniform(30, 80), hdg, a, r, 0, left)
		s0 := w.uniform(0, rt.length)
		period := w.uniform(240, 360)
		t0 := w.uniform(0, period) // when all three are stacked exactly
		if early {
			t0 = tMeet
		}
		spacing := w.uniform(10, 20)
		for j, member := range []string{"a", "b", "c"} {
			m := plain(rt, s0, v)
			m.oalt = float64(j) * spacing
			if j > 0 {
				// Drifting 0..lagAmp s behind the lowest one and back,
				// at most 20 % slower or faster than it.
				m.lagAmp = w.uniform(8, 0.2*2*period/(2*math.Pi))
				m.lagW, m.lagT0 = 2*math.Pi/period, t0
			}
			w.add(m, k, g, member)
		}
	}
}

// hubDrone adds a drone shuttling from vertiport h out to a destination and
// back: a long thin racetrack that starts at its pad at 30-60 m,
// climbs to its cruise altitude outbound and descends inbound. early drones
// are phased to be back at the vertiport within [earlyMin, earlyMax] s.
func (w *world) hubDrone(h int, early bool) {
	hx, hy := w.hubs[h][0], w.hubs[h][1]
	v := w.uniform(8, 18)
	r := turnRadius(v, droneOmega)
	hdg := w.uniform(-math.Pi, math.Pi)
	cs, sn := math.Cos(hdg), math.Sin(hdg)
	// The farthest the leg may reach inside the area along hdg.
	reach := math.Inf(1)
	lim := w.half - 2*r - 30
	if cs > 1e-9 {
		reach = min(reach, (lim-hx)/cs)
	} else if cs < -1e-9 {
		reach = min(reach, (-lim-hx)/cs)
	}
	if sn > 1e-9 {
		reach = min(reach, (lim-hy)/sn)
	} else if sn < -1e-9 {
		reach = min(reach, (-lim-hy)/sn)
	}
	legLen := max(300, min(w.uniform(800, 3000), reach))
	// Each drone has its own pad within 80 m of the vertiport's centre;
	// the early ones share the centre, to converge.
	pad, padDir, low := w.uniform(20, 80), w.uniform(-math.Pi, math.Pi), w.uniform(30, 60)
	if early {
		pad, low = w.uniform(0, 10), w.uniform(30, 40)
	}
	ex, ey := pad*math.Cos(padDir), pad*math.Sin(padDir)
	cruise := min(w.uniform(60, 120), low+droneVZ*legLen/v*2/math.Pi)
	rt := racetrack(hx+ex, hy+ey, low, hdg, legLen/2, r, cruise-low, w.rng.IntN(2) == 0)
	s0 := w.uniform(0, rt.length)
	if early {
		s0 = rt.length - v*(w.hubMeet[h]+w.uniform(-1, 1))
	}
	w.add(plain(rt, s0, v), KindHub, h+1, "")
}

// loop returns a closed waypoint route of k waypoints around (cx, cy) at
// about radius rho, with altitudes in [altLo, altHi] whose changes respect
// the vertical rate vz at speed v, turning on radius r; nil when the draw
// leaves a leg too short for its turns.
func (w *world) loop(cx, cy, rho, altLo, altHi, v, vz, r float64) *route {
	k := 4 + w.rng.IntN(3)
	dir := 1.0
	if w.rng.IntN(2) == 0 {
		dir = -1
	}
	start := w.uniform(-math.Pi, math.Pi)
	var buf [maxWaypoints][3]float64
	pts := buf[:k]
	for i := range pts {
		ang := start + dir*(2*math.Pi*float64(i)+w.uniform(-0.25, 0.25)*2*math.Pi)/float64(k)
		rad := rho * w.uniform(0.6, 1)
		pts[i] = [3]float64{cx + rad*math.Cos(ang), cy + rad*math.Sin(ang), w.uniform(altLo, altHi)}
	}
	return polygon(pts, r, vz/v)
}

// drone adds a background drone on a waypoint loop.
func (w *world) drone() {
	v := w.uniform(5, 20)
	r := turnRadius(v, droneOmega)
	var rt *route
	for try := 0; rt == nil; try++ {
		rho := min(w.uniform(400, 2000), w.half-100)
		cx, cy := w.point(w.half, rho+2*r)
		rt = w.loop(cx, cy, rho, 30, 120, v, droneVZ, r)
		if rt == nil && try >= 20 {
			rt = racetrack(cx, cy, 60, 0, 200, r, 0, true)
		}
	}
	w.add(plain(rt, w.uniform(0, rt.length), v), KindDrone, 0, "")
}

// aircraft adds a helicopter or light aircraft on a wide waypoint circuit.
func (w *world) aircraft(k Kind) {
	v, omega, lo, hi := w.uniform(40, 55), heliOmega, 300.0, 900.0
	if k == KindAircraft {
		v, omega, lo, hi = w.uniform(45, 70), planeOmega, 500, 1500
	}
	r := turnRadius(v, omega)
	var rt *route
	for try := 0; rt == nil; try++ {
		rho := min(w.uniform(3000, 6000), w.airHalf-500)
		cx, cy := w.point(w.airHalf, rho+r)
		rt = w.loop(cx, cy, rho, lo, hi, v, aircraftVZ, r)
		if rt == nil && try >= 20 {
			rt = racetrack(cx-rho/2, cy, (lo+hi)/2, 0, rho/2, r, 0, true)
		}
	}
	w.add(plain(rt, w.uniform(0, rt.length), v), k, 0, "")
}
