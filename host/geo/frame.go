// Package geo converts between WGS84 geodetic coordinates and the engine's
// Cartesian frame: East-North-Up metres at a configured origin (the default)
// or Earth-Centred Earth-Fixed metres.
//
// Every distance the engine computes is a true 3D distance in that frame.
// Velocities and accelerations arrive in the vehicle's own local East-North-Up
// axes (or as ground speed, track and vertical rate) and are rotated into the
// frame at the vehicle's position, so a vehicle 100 km from the origin flying
// east at 100 m/s has a frame speed of exactly 100 m/s even though its local
// east is not the frame's x axis.
//
// All conversions are allocation-free; the origin's trigonometry is computed
// once in New. A Frame is immutable and safe for concurrent use.
package geo

import (
	"fmt"
	"math"
	"strings"
)

// WGS84 ellipsoid constants.
const (
	// SemiMajor is the WGS84 equatorial radius a, m.
	SemiMajor = 6378137.0
	// Flattening is the WGS84 flattening f.
	Flattening = 1 / 298.257223563
	// SemiMinor is the WGS84 polar radius b = a(1-f), m.
	SemiMinor = SemiMajor * (1 - Flattening)

	e2  = Flattening * (2 - Flattening)              // first eccentricity squared
	ep2 = e2 / ((1 - Flattening) * (1 - Flattening)) // second eccentricity squared

	deg = math.Pi / 180
)

// Kind selects the Cartesian frame.
type Kind uint8

const (
	// ENU is East-North-Up metres at the origin: x east, y north, z up along
	// the origin's ellipsoid normal. The default.
	ENU Kind = iota
	// ECEF is Earth-Centred Earth-Fixed metres (x towards lat 0 lon 0, z towards
	// the north pole); the origin is ignored.
	ECEF
)

// String returns "enu" or "ecef".
func (k Kind) String() string {
	switch k {
	case ENU:
		return "enu"
	case ECEF:
		return "ecef"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// ParseKind parses a frame type as it appears in configuration
// (system.frame.type): "enu" or "ecef", case-insensitive; "" is ENU.
func ParseKind(s string) (Kind, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "enu":
		return ENU, nil
	case "ecef":
		return ECEF, nil
	}
	return 0, &ConfigError{Key: "type", Value: s, Err: ErrUnknownKind}
}

// Config describes a frame (configuration section system.frame).
type Config struct {
	// Kind is "enu" or "ecef". Default "enu".
	Kind string
	// Lat is the origin's geodetic latitude, degrees in [-90, 90]. Default 0.
	Lat float64
	// Lon is the origin's longitude, degrees in [-180, 180]. Default 0.
	Lon float64
	// Alt is the origin's height above the WGS84 ellipsoid, m, in
	// [-11000, 1e6]. Default 0.
	Alt float64
}

// Frame is a Cartesian engine frame. The zero value is not usable; build one
// with New.
type Frame struct {
	kind           Kind
	lat, lon, alt  float64 // origin, degrees and metres
	ox, oy, oz     float64 // origin in ECEF, m
	sinLat, cosLat float64 // origin trigonometry
	sinLon, cosLon float64
}

// New validates cfg and builds its frame. Errors name the offending key
// (*ConfigError, matching ErrUnknownKind or ErrOriginRange).
func New(cfg Config) (*Frame, error) {
	kind, err := ParseKind(cfg.Kind)
	if err != nil {
		return nil, err
	}
	if !(cfg.Lat >= -90 && cfg.Lat <= 90) {
		return nil, &ConfigError{Key: "origin.lat", Value: fmt.Sprint(cfg.Lat), Err: ErrOriginRange}
	}
	if !(cfg.Lon >= -180 && cfg.Lon <= 180) {
		return nil, &ConfigError{Key: "origin.lon", Value: fmt.Sprint(cfg.Lon), Err: ErrOriginRange}
	}
	if !(cfg.Alt >= -11000 && cfg.Alt <= 1e6) {
		return nil, &ConfigError{Key: "origin.alt", Value: fmt.Sprint(cfg.Alt), Err: ErrOriginRange}
	}
	f := &Frame{kind: kind, lat: cfg.Lat, lon: cfg.Lon, alt: cfg.Alt}
	f.sinLat, f.cosLat = math.Sincos(cfg.Lat * deg)
	f.sinLon, f.cosLon = math.Sincos(cfg.Lon * deg)
	f.ox, f.oy, f.oz = ecef(f.sinLat, f.cosLat, f.sinLon, f.cosLon, cfg.Alt)
	return f, nil
}

// MustNew is New that panics on error, for tests and examples.
func MustNew(cfg Config) *Frame {
	f, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return f
}

// Kind returns the frame's type.
func (f *Frame) Kind() Kind { return f.kind }

// Origin returns the configured origin (degrees, degrees, metres).
func (f *Frame) Origin() (lat, lon, alt float64) { return f.lat, f.lon, f.alt }

// ecef converts a geodetic position given by its trigonometry to ECEF.
func ecef(sinLat, cosLat, sinLon, cosLon, alt float64) (x, y, z float64) {
	n := SemiMajor / math.Sqrt(1-e2*sinLat*sinLat) // prime vertical radius
	r := (n + alt) * cosLat
	return r * cosLon, r * sinLon, (n*(1-e2) + alt) * sinLat
}

// fromECEFVector rotates an ECEF vector (or offset) into the frame's axes.
func (f *Frame) fromECEFVector(dx, dy, dz float64) (x, y, z float64) {
	if f.kind == ECEF {
		return dx, dy, dz
	}
	t := f.cosLon*dx + f.sinLon*dy
	x = -f.sinLon*dx + f.cosLon*dy
	y = -f.sinLat*t + f.cosLat*dz
	z = f.cosLat*t + f.sinLat*dz
	return x, y, z
}

// toECEFVector rotates a frame vector into ECEF axes (inverse of fromECEFVector).
func (f *Frame) toECEFVector(x, y, z float64) (dx, dy, dz float64) {
	if f.kind == ECEF {
		return x, y, z
	}
	t := -f.sinLat*y + f.cosLat*z
	dx = -f.sinLon*x + f.cosLon*t
	dy = f.cosLon*x + f.sinLon*t
	dz = f.cosLat*y + f.sinLat*z
	return dx, dy, dz
}

// FromGeodetic converts a WGS84 position (degrees, degrees, metres above the
// ellipsoid) to frame coordinates, m.
func (f *Frame) FromGeodetic(lat, lon, alt float64) (x, y, z float64) {
	p := f.Locate(lat, lon, alt)
	return p.X, p.Y, p.Z
}

// ToGeodetic converts frame coordinates back to WGS84 (degrees, degrees,
// metres above the ellipsoid). Longitude is in (-180, 180]; at the poles it
// is 0.
func (f *Frame) ToGeodetic(x, y, z float64) (lat, lon, alt float64) {
	dx, dy, dz := f.toECEFVector(x, y, z)
	if f.kind == ENU {
		dx, dy, dz = dx+f.ox, dy+f.oy, dz+f.oz
	}
	return ecefToGeodetic(dx, dy, dz)
}

// ecefToGeodetic solves for the latitude with Heikkinen's exact closed form
// (Zhu 1993) and then takes the height from that latitude as
// h = p cos(lat) + z sin(lat) - a²/N, which is well conditioned at every
// latitude (unlike p/cos(lat) - N near the poles). Round trips are exact to
// well under a millimetre from the Earth's surface out to orbital altitudes.
func ecefToGeodetic(x, y, z float64) (lat, lon, alt float64) {
	const a, b = SemiMajor, SemiMinor
	p := math.Hypot(x, y)
	if p < 1e-9 { // on the polar axis
		if z >= 0 {
			return 90, 0, z - b
		}
		return -90, 0, -z - b
	}
	zz := z * z
	F := 54 * b * b * zz
	G := p*p + (1-e2)*zz - e2*(a*a-b*b)
	c := e2 * e2 * F * p * p / (G * G * G)
	s := math.Cbrt(1 + c + math.Sqrt(c*c+2*c))
	k := s + 1 + 1/s
	P := F / (3 * k * k * G * G)
	Q := math.Sqrt(1 + 2*e2*e2*P)
	arg := 0.5*a*a*(1+1/Q) - P*(1-e2)*zz/(Q*(1+Q)) - 0.5*P*p*p
	var latRad float64
	if G > 0 && arg >= 0 {
		r0 := -P*e2*p/(1+Q) + math.Sqrt(arg)
		u := (p - e2*r0)
		V := math.Sqrt(u*u + (1-e2)*zz)
		z0 := b * b * z / (a * V)
		latRad = math.Atan((z + ep2*z0) / p)
	}
	if !(G > 0 && arg >= 0) || math.IsNaN(latRad) {
		// Deep inside the Earth (within ~40 km of its centre, where the
		// geodetic latitude is not unique) the closed form has no real
		// solution; any finite answer will do there, so take the latitude
		// whose normal is parallel to the point's direction scaled as on
		// the surface.
		latRad = math.Atan2(z, p*(1-e2))
	}
	sinLat, cosLat := math.Sincos(latRad)
	n := a / math.Sqrt(1-e2*sinLat*sinLat)
	alt = p*cosLat + z*sinLat - a*a/n
	return latRad / deg, math.Atan2(y, x) / deg, alt
}

// Local is a position converted to the frame together with the rotation from
// the local East-North-Up axes at that position into the frame's axes. It
// lets a record's velocity and acceleration be rotated without repeating the
// trigonometry.
type Local struct {
	// X, Y, Z are the frame coordinates, m.
	X, Y, Z float64

	f              *Frame
	sinLat, cosLat float64
	sinLon, cosLon float64
}

// Locate converts a WGS84 position to the frame and prepares the local axes
// there for Vector.
func (f *Frame) Locate(lat, lon, alt float64) Local {
	l := Local{f: f}
	l.sinLat, l.cosLat = math.Sincos(lat * deg)
	l.sinLon, l.cosLon = math.Sincos(lon * deg)
	x, y, z := ecef(l.sinLat, l.cosLat, l.sinLon, l.cosLon, alt)
	if f.kind == ENU {
		x, y, z = x-f.ox, y-f.oy, z-f.oz
	}
	l.X, l.Y, l.Z = f.fromECEFVector(x, y, z)
	return l
}

// Vector rotates a vector given in the local axes at l (east, north, up; a
// velocity in m/s or an acceleration in m/s², for example) into the frame's
// axes. Its length is preserved.
func (l *Local) Vector(e, n, u float64) (x, y, z float64) {
	t := -l.sinLat*n + l.cosLat*u
	dx := -l.sinLon*e + l.cosLon*t
	dy := l.cosLon*e + l.sinLon*t
	dz := l.cosLat*n + l.sinLat*u
	return l.f.fromECEFVector(dx, dy, dz)
}

// LocalVector rotates a frame vector into the local axes at l (east, north,
// up): the inverse of Vector.
func (l *Local) LocalVector(x, y, z float64) (e, n, u float64) {
	dx, dy, dz := l.f.toECEFVector(x, y, z)
	t := l.cosLon*dx + l.sinLon*dy
	e = -l.sinLon*dx + l.cosLon*dy
	n = -l.sinLat*t + l.cosLat*dz
	u = l.cosLat*t + l.sinLat*dz
	return e, n, u
}

// VectorAt rotates a local (east, north, up) vector at the WGS84 position
// (lat, lon) into the frame's axes. Prefer Locate + Local.Vector when the
// position is converted too.
func (f *Frame) VectorAt(lat, lon, e, n, u float64) (x, y, z float64) {
	l := Local{f: f}
	l.sinLat, l.cosLat = math.Sincos(lat * deg)
	l.sinLon, l.cosLon = math.Sincos(lon * deg)
	return l.Vector(e, n, u)
}

// LocalAt rotates a frame vector into the local (east, north, up) axes at the
// WGS84 position (lat, lon): how the API shows a vehicle's velocity.
func (f *Frame) LocalAt(lat, lon, x, y, z float64) (e, n, u float64) {
	l := Local{f: f}
	l.sinLat, l.cosLat = math.Sincos(lat * deg)
	l.sinLon, l.cosLon = math.Sincos(lon * deg)
	return l.LocalVector(x, y, z)
}

// SpeedTrackToENU converts the ADS-B / AIS velocity form (ground speed, m/s;
// track, degrees true, clockwise from north; vertical rate, m/s, up positive)
// to local (east, north, up) components.
func SpeedTrackToENU(speed, track, vrate float64) (e, n, u float64) {
	s, c := math.Sincos(track * deg)
	return speed * s, speed * c, vrate
}

// ENUToSpeedTrack is the inverse of SpeedTrackToENU: ground speed (m/s),
// track in [0, 360) degrees (0 when the speed is 0) and vertical rate (m/s).
func ENUToSpeedTrack(e, n, u float64) (speed, track, vrate float64) {
	speed = math.Hypot(e, n)
	if speed == 0 {
		return 0, 0, u
	}
	track = math.Atan2(e, n) / deg
	if track < 0 {
		track += 360
	}
	if track >= 360 {
		track = 0
	}
	return speed, track, u
}
