package sim

import (
	"context"
	"math"
	"strconv"
	"time"

	"github.com/collision-detection-platform/distributed-platform/host/geo"
	"github.com/collision-detection-platform/distributed-platform/host/ingest"
)

// recordFields are the fields of every simulated record: a geodetic
// position with an east/north/up velocity, as the decoder marks them.
const recordFields = ingest.FieldID | ingest.FieldT | ingest.FieldLat | ingest.FieldLon | ingest.FieldAlt |
	ingest.FieldVX | ingest.FieldVY | ingest.FieldVZ

// e2 is the WGS84 first eccentricity squared.
const e2 = geo.Flattening * (2 - geo.Flattening)

// Sim is a deterministic simulated world. Build one with New. A Sim is not
// safe for concurrent use: one goroutine steps it.
type Sim struct {
	cfg            Config
	period, jitter float64 // report period and jitter, s
	started        bool
	start          float64 // Unix seconds of time zero

	veh  []vehicle
	info []Info
	byID map[string]int32
	// ids holds every vehicle id back to back; records alias it, so that a
	// report costs no allocation.
	ids    []byte
	idOff  []uint32
	next   []float64 // time of each vehicle's next report, s from start
	seq    []uint64  // number of each vehicle's next report
	phase  []float64 // each vehicle's slot offset, s
	region Region

	// The flat map: metres east and north of the origin to degrees.
	lat0, lon0 float64
	latPerM    float64 // degrees of latitude per metre north
	lonPerM    float64 // degrees of longitude per metre east
	eastScale  float64 // 1 / (Rn cos lat) at the origin
	northScale float64 // 1 / Rm at the origin

	seedH uint64 // hash of the seed, for the jitter

	scratch []ingest.Record // AppendNDJSON's records
}

// New builds the world cfg describes. Errors are *ConfigError (matching
// ErrConfig) naming the field.
func New(cfg Config) (*Sim, error) {
	period, jitter, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	w := build(cfg.N, cfg.Seed)
	s := &Sim{
		cfg: cfg, period: period, jitter: jitter,
		veh: w.veh, info: w.info,
		byID:  make(map[string]int32, len(w.info)),
		idOff: make([]uint32, len(w.info)+1),
		next:  make([]float64, len(w.info)),
		seq:   make([]uint64, len(w.info)),
		phase: make([]float64, len(w.info)),
		lat0:  cfg.OriginLat, lon0: cfg.OriginLon,
		seedH: mix(cfg.Seed ^ 0x243f6a8885a308d3),
	}
	// Radii of curvature of the ellipsoid at the origin.
	sin, cos := math.Sincos(cfg.OriginLat * math.Pi / 180)
	d := 1 - e2*sin*sin
	rn := geo.SemiMajor / math.Sqrt(d)
	rm := geo.SemiMajor * (1 - e2) / (d * math.Sqrt(d))
	s.latPerM = 180 / math.Pi / rm
	s.lonPerM = 180 / math.Pi / (rn * cos)
	s.eastScale, s.northScale = 1/(rn*cos), 1/rm
	for i, in := range w.info {
		s.byID[in.ID] = int32(i)
		s.ids = append(s.ids, in.ID...)
		s.idOff[i+1] = uint32(len(s.ids))
		// Slots spread evenly over the period, jitter inside them, so that
		// report k of a vehicle stays between reports k-1 and k+1.
		s.phase[i] = w.rng.Float64() * (period - jitter)
		s.next[i] = s.slot(i, 0)
	}
	s.region = Region{HalfWidth: w.half, AircraftHalfWidth: w.airHalf}
	for _, h := range w.hubs {
		lat, lon := s.toLatLon(h[0], h[1])
		s.region.Vertiports = append(s.region.Vertiports, Point{Lat: lat, Lon: lon})
	}
	if !cfg.Start.IsZero() {
		s.begin(cfg.Start)
	}
	return s, nil
}

func (s *Sim) begin(t time.Time) {
	s.started = true
	s.start = float64(t.UnixNano()) / 1e9
}

// mix is SplitMix64's finaliser: a well-spread hash of x.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// slot is the time of report k of vehicle i, s from start: a pure function
// of the seed, i and k, so that the reports do not depend on how often Step
// runs.
func (s *Sim) slot(i int, k uint64) float64 {
	t := float64(k)*s.period + s.phase[i]
	if s.jitter > 0 {
		h := mix(s.seedH ^ uint64(i)*0x9e3779b97f4a7c15 ^ k*0xd1b54a32d192ed03)
		t += s.jitter * float64(h>>11) / (1 << 53)
	}
	return t
}

// toLatLon maps the flat world (m east, north of the origin) to WGS84.
func (s *Sim) toLatLon(x, y float64) (lat, lon float64) {
	lat = s.lat0 + y*s.latPerM
	lon = s.lon0 + x*s.lonPerM
	if lon > 180 {
		lon -= 360
	} else if lon < -180 {
		lon += 360
	}
	return lat, lon
}

// Len returns the number of vehicles.
func (s *Sim) Len() int { return len(s.veh) }

// Vehicles returns a description of every vehicle, in report order.
func (s *Sim) Vehicles() []Info { return append([]Info(nil), s.info...) }

// Lookup returns the description of the vehicle with the given id.
func (s *Sim) Lookup(id string) (Info, bool) {
	i, ok := s.byID[id]
	if !ok {
		return Info{}, false
	}
	return s.info[i], true
}

// Encounter reports whether vehicles a and b (ids) are members of one staged
// group or shuttle from one vertiport, and the kind: a risk between them is
// one the simulator arranged.
func (s *Sim) Encounter(a, b string) (Kind, bool) {
	ia, oka := s.Lookup(a)
	ib, okb := s.Lookup(b)
	if !oka || !okb || !ia.Kind.Staged() || ia.Kind != ib.Kind || ia.Group != ib.Group {
		return 0, false
	}
	return ia.Kind, true
}

// Region returns the extent of the world and its vertiports.
func (s *Sim) Region() Region {
	r := s.region
	r.Vertiports = append([]Point(nil), r.Vertiports...)
	return r
}

// Start returns the world's time zero (the zero Time before the first Step
// when Config.Start was not set).
func (s *Sim) Start() time.Time {
	if !s.started {
		return time.Time{}
	}
	sec, frac := math.Modf(s.start)
	return time.Unix(int64(sec), int64(math.Round(frac*1e9)))
}

// Step advances the world to now and appends to dst every report due since
// the previous Step (with time in (previous, now]), grouped by vehicle, each
// vehicle's reports in time order. A now at or before the previous one adds
// nothing. Each record is what the decoder yields for the wire form of
// AppendNDJSON: ID, T, Lat, Lon, Alt, VX, VY, VZ (east, north, up) and
// Fields set; Index is the record's position among those this call appended
// and Offset is 0. ID aliases the Sim's memory: do not modify it. Step does
// not allocate once dst has the capacity.
func (s *Sim) Step(now time.Time, dst []ingest.Record) []ingest.Record {
	if !s.started {
		s.begin(now.Add(-time.Duration(s.period * float64(time.Second))))
	}
	t := float64(now.UnixNano())/1e9 - s.start
	base := len(dst)
	for i := range s.next {
		for s.next[i] <= t {
			dst = append(dst, ingest.Record{})
			s.report(i, s.next[i], &dst[len(dst)-1])
			dst[len(dst)-1].Index = len(dst) - 1 - base
			s.seq[i]++
			s.next[i] = s.slot(i, s.seq[i])
		}
	}
	return dst
}

// SkipTo advances the world to now without reporting: the next Step reports
// only what falls due after now. A server that paused (a stopped process, a
// suspended laptop) calls it to resume live instead of replaying the pause.
// A now at or before the previous Step or SkipTo does nothing.
func (s *Sim) SkipTo(now time.Time) {
	if !s.started {
		s.begin(now)
		return
	}
	t := float64(now.UnixNano())/1e9 - s.start
	for i := range s.next {
		if s.next[i] > t {
			continue
		}
		// Slot k lies in [k period, (k+1) period), so the first slot
		// after t is within one of floor(t / period).
		k := uint64(max(0, math.Floor(t/s.period)))
		if k < s.seq[i] {
			k = s.seq[i]
		}
		for s.slot(i, k) <= t {
			k++
		}
		s.seq[i], s.next[i] = k, s.slot(i, k)
	}
}

// Run calls Step on the wall clock every interval (default 100 ms when
// interval <= 0) until ctx is done, and hands each non-empty batch to fn,
// which must not keep recs. It returns ctx's error, or fn's first error.
// When fn takes longer than the interval, the next Step catches up with
// every report due meanwhile. This is the feeding loop of
// `cdp serve --simulate N`: fn normalises the records and submits them.
func (s *Sim) Run(ctx context.Context, interval time.Duration, fn func(now time.Time, recs []ingest.Record) error) error {
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var recs []ingest.Record
	for {
		now := time.Now()
		if recs = s.Step(now, recs[:0]); len(recs) > 0 {
			if err := fn(now, recs); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// report fills r with vehicle i's state at t (s from start).
func (s *Sim) report(i int, t float64, r *ingest.Record) {
	x, y, alt, vx, vy, vz := s.veh[i].state(t)
	lat, lon := s.toLatLon(x, y)
	r.ID = s.ids[s.idOff[i]:s.idOff[i+1]:s.idOff[i+1]]
	r.T = s.start + t
	r.Lat, r.Lon, r.Alt = lat, lon, alt
	// The map has the scale of the origin at the surface. The true speed of
	// the reported positions differs with the radii of curvature and the
	// parallel's radius at the vehicle and with its height (up to 1e-4 at
	// 1500 m): correct it, so that the velocity is the derivative of the
	// reported positions and the engine's prediction follows the traffic.
	sin, cos := math.Sincos(lat * math.Pi / 180)
	d := 1 - e2*sin*sin
	rn := geo.SemiMajor / math.Sqrt(d)
	rm := rn * (1 - e2) / d
	r.VX = vx * (rn + alt) * cos * s.eastScale
	r.VY = vy * (rm + alt) * s.northScale
	r.VZ = vz
	r.Fields = recordFields
}

// AppendNDJSON appends the reports Step(now) would return as NDJSON, one
// wire record per line, in the form POST /api/v1/locations accepts:
//
//	{"id":"sim-drone-0042","t":1764118098.123,"lat":51.5012345,"lon":-0.1234567,"alt":85.31,"vx":3.21,"vy":-11.4,"vz":0.5}
//
// t is given to the millisecond, lat and lon to 10 significant digits
// (about a centimetre), alt to 7 (a millimetre below 10 km) and the
// velocity to 6. It does not allocate once dst
// and the Sim's scratch have the capacity.
func (s *Sim) AppendNDJSON(dst []byte, now time.Time) []byte {
	s.scratch = s.Step(now, s.scratch[:0])
	for i := range s.scratch {
		dst = appendRecord(dst, &s.scratch[i])
	}
	return dst
}

// appendRecord writes one record. strconv's 'f' format with a fixed
// precision takes a slow multi-precision path, so t is written as an
// integer part and milliseconds, and the others with 'g' and a digit count,
// which the fast fixed-precision Ryu path serves.
func appendRecord(dst []byte, r *ingest.Record) []byte {
	dst = append(dst, `{"id":"`...)
	dst = append(dst, r.ID...)
	dst = append(dst, `","t":`...)
	ms := int64(math.Round(r.T * 1000))
	dst = strconv.AppendInt(dst, ms/1000, 10)
	if f := ms % 1000; f != 0 {
		dst = append(dst, '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
	}
	dst = append(dst, `,"lat":`...)
	dst = strconv.AppendFloat(dst, r.Lat, 'g', 10, 64)
	dst = append(dst, `,"lon":`...)
	dst = strconv.AppendFloat(dst, r.Lon, 'g', 10, 64)
	dst = append(dst, `,"alt":`...)
	dst = strconv.AppendFloat(dst, r.Alt, 'g', 7, 64)
	dst = append(dst, `,"vx":`...)
	dst = strconv.AppendFloat(dst, r.VX, 'g', 6, 64)
	dst = append(dst, `,"vy":`...)
	dst = strconv.AppendFloat(dst, r.VY, 'g', 6, 64)
	dst = append(dst, `,"vz":`...)
	dst = strconv.AppendFloat(dst, r.VZ, 'g', 6, 64)
	return append(dst, "}\n"...)
}
