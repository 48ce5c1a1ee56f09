package api

import (
	"math"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/geo"
	"github.com/collision-detection-platform/distributed-platform/host/ingest"
)

// Limits of GET /api/v1/map. The answer is bounded whatever the fleet:
// at most maxMapVehicles vehicles or a density grid of at most
// maxMapCells cells.
const (
	defaultMapVehicles = 5000
	maxMapVehicles     = 20000
	defaultMapCols     = 64
	defaultMapRows     = 64
	maxMapCells        = 256 * 256
)

// mapVehicle is a vehicle as the map draws it: where it is, where it heads
// and how it is classed; the rest is one GET /api/v1/vehicles/{id} away.
type mapVehicle struct {
	ID    string  `json:"id"`
	Lat   float64 `json:"lat"`
	Lon   float64 `json:"lon"`
	Alt   float64 `json:"alt"`
	Track float64 `json:"track"` // degrees clockwise from north
	Speed float64 `json:"speed"` // ground speed, m/s
	VRate float64 `json:"vrate"` // m/s, up positive
	Class string  `json:"class"`
	T     float64 `json:"t"`
}

// mapDensity counts the vehicles of the box per cell: Counts[r*Cols+c] is
// the cell of row r (0 = north) and column c (0 = west), each cell
// (maxLon-minLon)/Cols degrees wide and (maxLat-minLat)/Rows high.
type mapDensity struct {
	Cols   int        `json:"cols"`
	Rows   int        `json:"rows"`
	BBox   [4]float64 `json:"bbox"`
	Max    uint32     `json:"max"`
	Counts []uint32   `json:"counts"`
}

// mapAnswer is the GET /api/v1/map answer.
type mapAnswer struct {
	// Mode is "vehicles" when every vehicle of the box is listed, "density"
	// when there were more than max and only the grid is sent.
	Mode     string       `json:"mode"`
	Total    int          `json:"total"`
	Vehicles []mapVehicle `json:"vehicles"`
	Density  *mapDensity  `json:"density,omitempty"`
	// Risky lists, in density mode, the vehicles of the box that are in
	// an open risk (at most max), so that conflicts stay visible when the
	// rest is aggregated.
	Risky []mapVehicle `json:"risky,omitempty"`
	// Horizon is the prediction horizon, seconds: how far ahead a
	// predicted track reaches.
	Horizon float64 `json:"horizon_s"`
	// Clock is the engine's data clock (newest state time), Unix seconds.
	Clock float64 `json:"clock"`
}

// getMap answers what a map of the box can show: every vehicle in it while
// there are at most max of them, and beyond that a density grid of
// cols x rows cells (plus the vehicles in open risks), so that a zoomed-out
// view of a 100,000-vehicle fleet costs one bounded answer.
//
//	GET /api/v1/map?bbox=minLon,minLat,maxLon,maxLat[&max=5000][&grid=64,64]
//
// bbox in WGS84 degrees (required; minLon > maxLon crosses the
// antimeridian). max in [1, 20000], default 5000. grid is cols,rows of the
// density grid, each at least 1, cols x rows at most 65536; default 64,64.
func (s *Server) getMap(c *fiber.Ctx) error {
	q := c.Query("bbox")
	if q == "" {
		return badParam("bbox", "", "required: minLon,minLat,maxLon,maxLat in WGS84 degrees")
	}
	box, p := parseArea(q, "")
	if p != nil {
		return p
	}
	limit, p := parseLimit(c.Query("max"), defaultMapVehicles, maxMapVehicles)
	if p != nil {
		return badParam("max", c.Query("max"), "want an integer in [1, "+strconv.Itoa(maxMapVehicles)+"]")
	}
	cols, rows, p := parseGrid(c.Query("grid"))
	if p != nil {
		return p
	}
	width := box.maxX - box.minX
	if width < 0 { // across the antimeridian
		width += 360
	}
	height := box.maxY - box.minY
	if width <= 0 || height <= 0 {
		return badParam("bbox", q, "the box is empty: want minLon != maxLon and minLat < maxLat")
	}
	counts := make([]uint32, cols*rows)
	risky := make(map[string]struct{})
	for _, r := range s.eng.Risks() {
		risky[r.VehicleA], risky[r.VehicleB] = struct{}{}, struct{}{}
	}
	var (
		listed  = make([]mapVehicle, 0, min(limit, 1024))
		inRisk  []mapVehicle
		total   int
		frame   = s.opts.Frame
		classes = s.opts.Validator.Classes()
	)
	near := newBoxSphere(frame, box, width, height)
	s.eng.Vehicles(func(vs engine.VehicleState) bool {
		v := &vs.State
		if !near.mayHold(v.X, v.Y, v.Z) {
			return true
		}
		lat, lon, _ := frame.ToGeodetic(v.X, v.Y, v.Z)
		if lat < box.minY || lat > box.maxY {
			return true
		}
		dx := lon - box.minX
		if dx < 0 {
			dx += 360
		}
		if dx > width {
			return true
		}
		total++
		col := int(dx / width * float64(cols))
		row := int((box.maxY - lat) / height * float64(rows))
		counts[min(max(row, 0), rows-1)*cols+min(max(col, 0), cols-1)]++
		_, isRisky := risky[vs.ID]
		if len(listed) >= limit && (!isRisky || len(inRisk) >= limit) {
			return true
		}
		mv := s.mapView(&vs, lat, lon, classes)
		if len(listed) < limit {
			listed = append(listed, mv)
		}
		if isRisky && len(inRisk) < limit {
			inRisk = append(inRisk, mv)
		}
		return true
	})
	out := mapAnswer{Mode: "vehicles", Total: total, Vehicles: listed, Horizon: s.opts.Horizon.Seconds(),
		Clock: s.eng.Stats().Clock}
	if total > limit {
		d := &mapDensity{Cols: cols, Rows: rows, BBox: [4]float64{box.minX, box.minY, box.maxX, box.maxY}, Counts: counts}
		for _, n := range counts {
			d.Max = max(d.Max, n)
		}
		out.Mode, out.Vehicles, out.Density, out.Risky = "density", []mapVehicle{}, d, inRisk
	}
	return c.JSON(&out)
}

// boxSphere is a cheap, conservative pre-test of a WGS84 box in frame
// coordinates, so that a small view of a large fleet converts only the
// vehicles near it to WGS84 (the conversion is most of a request's cost).
// Both frames (ENU and ECEF) are rigid transforms of ECEF, so distances are
// the same in either: every point of the box at ground level lies within r0
// of c, and a point at altitude h lies within r0 + |h| of c. |h| is bounded
// from the distance to the Earth's centre e, which needs no altitude field
// (a frame-cartesian record's Alt is its z, not its height).
type boxSphere struct {
	cx, cy, cz float64 // the box's centre at ground level
	ex, ey, ez float64 // the Earth's centre
	r0         float64
	all        bool // the box is too large for the test to help
}

func newBoxSphere(f *geo.Frame, box *area, width, height float64) boxSphere {
	if width > 90 || height > 45 {
		return boxSphere{all: true}
	}
	var b boxSphere
	b.cx, b.cy, b.cz = f.FromGeodetic(box.minY+height/2, box.minX+width/2, 0)
	// At the pole, the geodetic height -b is the Earth's centre.
	b.ex, b.ey, b.ez = f.FromGeodetic(90, 0, -geo.SemiMinor)
	// The farthest ground point of a lat/lon box from its centre lies on
	// its boundary: walk it finely, then add a margin for the steps.
	const steps = 64
	for i := 0; i <= steps; i++ {
		u := float64(i) / steps
		for _, p := range [4][2]float64{
			{box.minY, box.minX + u*width}, {box.maxY, box.minX + u*width},
			{box.minY + u*height, box.minX}, {box.minY + u*height, box.minX + width},
		} {
			x, y, z := f.FromGeodetic(p[0], p[1], 0)
			b.r0 = max(b.r0, math.Sqrt((x-b.cx)*(x-b.cx)+(y-b.cy)*(y-b.cy)+(z-b.cz)*(z-b.cz)))
		}
	}
	b.r0 = b.r0*1.01 + 100
	return b
}

// mayHold reports false only for a point that cannot be in the box.
func (b *boxSphere) mayHold(x, y, z float64) bool {
	if b.all {
		return true
	}
	dx, dy, dz := x-b.cx, y-b.cy, z-b.cz
	d2 := dx*dx + dy*dy + dz*dz
	if d2 <= b.r0*b.r0 {
		return true
	}
	// |h| <= max(|r - a|, |r - b|) for a point r from the Earth's centre.
	ex, ey, ez := x-b.ex, y-b.ey, z-b.ez
	r := math.Sqrt(ex*ex + ey*ey + ez*ez)
	h := max(math.Abs(r-geo.SemiMajor), math.Abs(r-geo.SemiMinor))
	lim := b.r0 + h + 1
	return d2 <= lim*lim
}

// mapView is the map's view of a vehicle at lat, lon.
func (s *Server) mapView(vs *engine.VehicleState, lat, lon float64, classes *ingest.Classes) mapVehicle {
	v := &vs.State
	loc := s.opts.Frame.Locate(lat, lon, v.Alt)
	e, n, _ := loc.LocalVector(v.VX, v.VY, v.VZ)
	track := math.Atan2(e, n) * 180 / math.Pi
	if track < 0 {
		track += 360
	}
	return mapVehicle{ID: vs.ID, Lat: lat, Lon: lon, Alt: v.Alt, Track: track, Speed: math.Hypot(e, n),
		VRate: v.VRate, Class: classes.Name(v.Class), T: v.T}
}

// MarshalJSON writes the vehicle with the precision a map can use
// (positions to 1e-7 degrees, about 1 cm; speeds and angles to 0.1), which
// halves the answer and its encoding time against encoding/json's shortest
// round-trip floats.
func (v mapVehicle) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 160+len(v.ID)+len(v.Class))
	b = append(b, `{"id":`...)
	b = appendJSONString(b, []byte(v.ID))
	num := func(key string, f float64, prec int) {
		b = append(b, ',', '"')
		b = append(b, key...)
		b = append(b, '"', ':')
		if math.IsNaN(f) || math.IsInf(f, 0) {
			f = 0
		}
		b = strconv.AppendFloat(b, f, 'f', prec, 64)
		// Trailing zeros (and a bare point) carry nothing.
		if prec > 0 {
			for b[len(b)-1] == '0' {
				b = b[:len(b)-1]
			}
			if b[len(b)-1] == '.' {
				b = b[:len(b)-1]
			}
		}
	}
	num("lat", v.Lat, 7)
	num("lon", v.Lon, 7)
	num("alt", v.Alt, 1)
	num("track", v.Track, 1)
	num("speed", v.Speed, 1)
	num("vrate", v.VRate, 1)
	b = append(b, `,"class":`...)
	b = appendJSONString(b, []byte(v.Class))
	num("t", v.T, 3)
	return append(b, '}'), nil
}

// parseGrid parses "cols,rows" ("" is the default 64,64).
func parseGrid(q string) (cols, rows int, p *Problem) {
	if q == "" {
		return defaultMapCols, defaultMapRows, nil
	}
	a, b, ok := strings.Cut(q, ",")
	if !ok {
		return 0, 0, badParam("grid", q, "want cols,rows")
	}
	cols, err1 := strconv.Atoi(strings.TrimSpace(a))
	rows, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil || cols < 1 || rows < 1 {
		return 0, 0, badParam("grid", q, "want cols,rows as positive integers")
	}
	if cols*rows > maxMapCells || cols > maxMapCells || rows > maxMapCells {
		return 0, 0, badParam("grid", q, "at most "+strconv.Itoa(maxMapCells)+" cells")
	}
	return cols, rows, nil
}
