package sim

import "math"

// seg is one piece of a route: a straight leg or a turn at a constant rate.
// Headings are angles counterclockwise from east, radians.
type seg struct {
	s0, length float64 // start distance along the route and length, m
	x, y       float64 // start position, m east and north of the origin
	alt, dalt  float64 // start altitude and its change over the segment, m
	hdg        float64 // heading at the start
	cos, sin   float64 // unit vector of hdg
	k          float64 // signed curvature, 1/m: 0 straight, > 0 turning left
	cx, cy     float64 // turn centre (k != 0)
}

// route is a closed path of segments, flown at constant speed along its
// length. Position is a pure function of the distance flown, which is what
// makes every report independent of how often Step is called.
type route struct {
	segs   []seg
	length float64
}

// at evaluates the route at distance s in [0, length): position, altitude,
// unit tangent and altitude change per metre. cur is a search hint (the
// segment of the previous evaluation); the result does not depend on it.
func (r *route) at(s float64, cur *int32) (x, y, alt, dx, dy, climb float64) {
	i := int(*cur)
	if i >= len(r.segs) || s < r.segs[i].s0 {
		i = 0
	}
	for i+1 < len(r.segs) && s >= r.segs[i+1].s0 {
		i++
	}
	*cur = int32(i)
	g := &r.segs[i]
	u := s - g.s0
	alt = g.alt
	if g.k == 0 {
		if g.dalt != 0 {
			// Climbs and descents ease in and out (a half cosine), so the
			// vertical rate is continuous: level at both ends of the leg,
			// pi/2 times the mean rate mid-leg.
			sin, cos := math.Sincos(math.Pi * u / g.length)
			alt += g.dalt * (1 - cos) / 2
			climb = g.dalt * math.Pi / (2 * g.length) * sin
		}
		return g.x + u*g.cos, g.y + u*g.sin, alt, g.cos, g.sin, climb
	}
	sin, cos := math.Sincos(g.hdg + g.k*u)
	return g.cx + sin/g.k, g.cy - cos/g.k, alt, cos, sin, 0
}

// builder draws a route as a turtle does: straight legs and turns from the
// current position and heading.
type builder struct {
	x, y, alt, hdg float64
	s              float64
	segs           []seg
}

// newBuilder starts at (x, y, alt) heading hdg; nseg is the number of
// segments to expect.
func newBuilder(x, y, alt, hdg float64, nseg int) *builder {
	return &builder{x: x, y: y, alt: alt, hdg: hdg, segs: make([]seg, 0, nseg)}
}

// straight flies l metres ahead, changing altitude by dalt on the way; the
// steepest climb is pi/2 dalt/l, mid-leg.
func (b *builder) straight(l, dalt float64) {
	if l <= 0 {
		return
	}
	sin, cos := math.Sincos(b.hdg)
	b.segs = append(b.segs, seg{s0: b.s, length: l, x: b.x, y: b.y, alt: b.alt, dalt: dalt, hdg: b.hdg, cos: cos, sin: sin})
	b.x += l * cos
	b.y += l * sin
	b.alt += dalt
	b.s += l
}

// turn changes heading by angle (radians, > 0 left) on a circle of radius
// r, level.
func (b *builder) turn(angle, r float64) {
	if angle == 0 || r <= 0 {
		b.hdg += angle
		return
	}
	k := 1 / r
	if angle < 0 {
		k = -k
	}
	sin, cos := math.Sincos(b.hdg)
	cx, cy := b.x-sin/k, b.y+cos/k
	l := math.Abs(angle) * r
	b.segs = append(b.segs, seg{s0: b.s, length: l, x: b.x, y: b.y, alt: b.alt, hdg: b.hdg, cos: cos, sin: sin, k: k, cx: cx, cy: cy})
	b.hdg += angle
	sin, cos = math.Sincos(b.hdg)
	b.x, b.y = cx+sin/k, cy-cos/k
	b.s += l
}

func (b *builder) route() *route {
	return &route{segs: b.segs, length: b.s}
}

// racetrack is the holding pattern: a leg of length 2a from (x, y) along
// hdg, a half turn of radius r (left when left is set), the leg back, and
// a half turn to the start. The outbound leg changes altitude by dalt, the
// inbound leg by -dalt.
func racetrack(x, y, alt, hdg, a, r, dalt float64, left bool) *route {
	b := newBuilder(x, y, alt, hdg, 4)
	turn := math.Pi
	if !left {
		turn = -math.Pi
	}
	b.straight(2*a, dalt)
	b.turn(turn, r)
	b.straight(2*a, -dalt)
	b.turn(turn, r)
	return b.route()
}

// minStraight is the shortest straight left between two turns of a
// waypoint route, m.
const minStraight = 20

// maxWaypoints is the most waypoints a polygon route has.
const maxWaypoints = 8

// polygon flies the closed waypoint list w (x, y, altitude) with turns of
// radius r started and ended on the legs (fly-by waypoints). Each leg
// climbs or descends from its waypoint's altitude to the next one's on its
// straight part; the altitudes are first pulled toward their mean as far as
// needed for no climb to be steeper than maxSlope (m per m flown) at its
// steepest. It
// returns nil when a leg is too short for the turns at its ends. w's
// altitudes are modified.
func polygon(w [][3]float64, r, maxSlope float64) *route {
	n := len(w)
	if n < 3 || n > maxWaypoints {
		return nil
	}
	var hdg, dist [maxWaypoints]float64 // heading and length of leg i (w[i] -> w[i+1])
	for i := range w {
		j := (i + 1) % n
		dx, dy := w[j][0]-w[i][0], w[j][1]-w[i][1]
		hdg[i], dist[i] = math.Atan2(dy, dx), math.Hypot(dx, dy)
	}
	var turn [maxWaypoints]float64 // turn at waypoint i (from leg i-1 to leg i)
	var tan [maxWaypoints]float64  // distance from waypoint i to its turn's ends
	for i := range w {
		turn[i] = wrapAngle(hdg[i] - hdg[(i+n-1)%n])
		if math.Abs(turn[i]) > 0.9*math.Pi {
			return nil
		}
		tan[i] = r * math.Tan(math.Abs(turn[i])/2)
	}
	mean, f := 0.0, 1.0
	for i := range w {
		j := (i + 1) % n
		l := dist[i] - tan[i] - tan[j]
		if l < minStraight {
			return nil
		}
		mean += w[i][2] / float64(n)
		if dz := math.Abs(w[j][2] - w[i][2]); dz > maxSlope*l*2/math.Pi {
			f = min(f, maxSlope*l*2/math.Pi/dz)
		}
	}
	for i := range w {
		w[i][2] = mean + f*(w[i][2]-mean)
	}
	sin, cos := math.Sincos(hdg[0])
	b := newBuilder(w[0][0]+tan[0]*cos, w[0][1]+tan[0]*sin, w[0][2], hdg[0], 2*n)
	for i := range w {
		j := (i + 1) % n
		b.straight(dist[i]-tan[i]-tan[j], w[j][2]-w[i][2])
		b.turn(turn[j], r)
	}
	return b.route()
}

// wrapAngle maps a to (-pi, pi].
func wrapAngle(a float64) float64 {
	a = math.Mod(a, 2*math.Pi)
	if a > math.Pi {
		a -= 2 * math.Pi
	} else if a <= -math.Pi {
		a += 2 * math.Pi
	}
	return a
}
