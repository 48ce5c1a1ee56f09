package api

import (
	"errors"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/abi/risk"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/geo"
)

// defaultEventLimit is the history's page size unless api.max_limit is
// lower.
const defaultEventLimit = 1000

// vehicleView is a vehicle as the API shows it: the position both in WGS84
// and in the engine frame, the velocity in the frame and as ground speed,
// track and vertical rate at the vehicle.
type vehicleView struct {
	ID     string        `json:"id"`
	T      float64       `json:"t"`
	Lat    float64       `json:"lat"`
	Lon    float64       `json:"lon"`
	Alt    float64       `json:"alt"`
	X      float64       `json:"x"`
	Y      float64       `json:"y"`
	Z      float64       `json:"z"`
	VX     float64       `json:"vx"`
	VY     float64       `json:"vy"`
	VZ     float64       `json:"vz"`
	Speed  float64       `json:"speed"`
	Track  float64       `json:"track"`
	VRate  float64       `json:"vrate"`
	Accel  *[3]float64   `json:"accel,omitempty"`
	Class  string        `json:"class"`
	Radius float64       `json:"radius"`
	HSep   float64       `json:"hsep"`
	VSep   float64       `json:"vsep"`
	Sigma  float64       `json:"sigma"`
	Box    [2][3]float64 `json:"swept_box"` // [[minX,minY,minZ],[maxX,maxY,maxZ]], frame metres
	// Risk is the vehicle's highest open risk now, shown when the list is
	// sorted or filtered by risk.
	Risk *float64 `json:"risk,omitempty"`
}

func (s *Server) view(vs *engine.VehicleState) vehicleView {
	v := &vs.State
	lat, lon, _ := s.opts.Frame.ToGeodetic(v.X, v.Y, v.Z)
	loc := s.opts.Frame.Locate(lat, lon, v.Alt)
	e, n, _ := loc.LocalVector(v.VX, v.VY, v.VZ)
	track := math.Atan2(e, n) * 180 / math.Pi
	if track < 0 {
		track += 360
	}
	out := vehicleView{
		ID: vs.ID, T: v.T, Lat: lat, Lon: lon, Alt: v.Alt,
		X: v.X, Y: v.Y, Z: v.Z, VX: v.VX, VY: v.VY, VZ: v.VZ,
		Speed: math.Hypot(e, n), Track: track, VRate: v.VRate,
		Class:  s.opts.Validator.Classes().Name(v.Class),
		Radius: float64(v.Radius), HSep: float64(v.HSep), VSep: float64(v.VSep), Sigma: float64(v.Sigma),
		Box: [2][3]float64{{vs.Box.MinX, vs.Box.MinY, vs.Box.MinZ}, {vs.Box.MaxX, vs.Box.MaxY, vs.Box.MaxZ}},
	}
	if v.Flags&abi.FlagHasAccel != 0 {
		out.Accel = &[3]float64{v.AX, v.AY, v.AZ}
	}
	out.round()
	return out
}

// Decimal places a vehicle is shown with: finer than any position or
// velocity source reports (GNSS, ADS-B and AIS carry at most 7 decimals of a
// degree, about 1 cm, and mm or mm/s), so an input value comes back as it
// was sent (51.501, not the 51.50099999999998 of the frame round trip) and
// a component that is zero shows 0, not -2.7e-18.
const (
	degreeDecimals = 7 // lat, lon: 1.1 cm
	metreDecimals  = 3 // positions, lengths, velocities: 1 mm, 1 mm/s
	trackDecimals  = 3 // track, degrees
	timeDecimals   = 6 // t, seconds: 1 µs
)

// roundTo rounds x to n decimal places; zero is always +0.
func roundTo(x float64, n int) float64 {
	p := math.Pow10(n)
	if r := math.Round(x*p) / p; r != 0 {
		return r
	}
	return 0
}

// round applies the display precision to every number of the view.
func (v *vehicleView) round() {
	v.T = roundTo(v.T, timeDecimals)
	v.Lat, v.Lon = roundTo(v.Lat, degreeDecimals), roundTo(v.Lon, degreeDecimals)
	if v.Track = roundTo(v.Track, trackDecimals); v.Track == 360 {
		v.Track = 0
	}
	for _, f := range []*float64{&v.Alt, &v.X, &v.Y, &v.Z, &v.VX, &v.VY, &v.VZ, &v.Speed, &v.VRate,
		&v.Radius, &v.HSep, &v.VSep, &v.Sigma} {
		*f = roundTo(*f, metreDecimals)
	}
	for i := range v.Box {
		for j := range v.Box[i] {
			v.Box[i][j] = roundTo(v.Box[i][j], metreDecimals)
		}
	}
	if v.Accel != nil {
		for i := range v.Accel {
			v.Accel[i] = roundTo(v.Accel[i], metreDecimals)
		}
	}
}

// getVehicle answers one vehicle's state.
//
//	GET /api/v1/vehicles/{id}
//
// 200 the vehicle; 404 when the engine does not hold it (never seen, or
// expired after collision_detection.vehicle_ttl).
func (s *Server) getVehicle(c *fiber.Ctx) error {
	id, p := pathID(c)
	if p != nil {
		return p
	}
	vs, ok := s.eng.Vehicle(id)
	if !ok {
		return problem(fiber.StatusNotFound, "unknown vehicle "+strconv.Quote(id),
			map[string]string{"id": id, "reason": "not in the state table (never seen, or expired)"})
	}
	return c.JSON(s.view(&vs))
}

// getVehicles lists vehicles, paged, optionally filtered.
//
//	GET /api/v1/vehicles[?sort=id|risk][&limit=N][&cursor=C][&min_risk=R]
//	    [&bbox=minLon,minLat,maxLon,maxLat[&crs=wgs84|frame]][&class=NAME[,NAME]]
//
// sort=id (default) lists in id order; sort=risk lists the vehicles with the
// highest open risk first (then by id), then those without one. bbox in WGS84
// degrees (minLon > maxLon crosses the antimeridian), or with crs=frame as
// minX,minY,maxX,maxY engine-frame metres. min_risk keeps the vehicles with
// an open risk at or above it. limit in [1, api.max_limit], default
// api.default_limit. The answer carries next_cursor while more vehicles
// follow; pass it back as cursor with the same sort. With sort=risk or
// min_risk each vehicle shows "risk", its highest open risk now.
func (s *Server) getVehicles(c *fiber.Ctx) error {
	q, p := s.parseListQuery(c, sortID)
	if p != nil {
		return p
	}
	var (
		states []engine.VehicleState
		risks  []float64 // by states index, when worst is set
		worst  map[string]float64
		more   bool
	)
	if q.sort == sortRisk || q.hasMin {
		// The highest current risk of each vehicle that has an open risk.
		worst = make(map[string]float64)
		for _, r := range s.eng.Risks() {
			for _, id := range [2]string{r.VehicleA, r.VehicleB} {
				if w, ok := worst[id]; !ok || r.Risk > w {
					worst[id] = r.Risk
				}
			}
		}
	}
	take := func(vs engine.VehicleState, risk float64) bool {
		if len(states) == q.limit {
			more = true
			return false
		}
		states = append(states, vs)
		risks = append(risks, risk)
		return true
	}
	if q.sort == sortRisk {
		// Vehicles with a risk above 0 first, highest first; then the
		// rest (risk 0) in id order, read from the state table.
		type ranked struct {
			id   string
			risk float64
		}
		var rs []ranked
		for id, w := range worst {
			if w > 0 && w >= q.minRisk && q.cur.after(w, id) {
				rs = append(rs, ranked{id, w})
			}
		}
		slices.SortFunc(rs, func(a, b ranked) int { return byRiskThenID(a.risk, a.id, b.risk, b.id) })
		full := false
		for _, r := range rs {
			vs, ok := s.eng.Vehicle(r.id)
			if !ok || !s.vehicleMatches(&q, &vs) {
				continue
			}
			if !take(vs, r.risk) {
				full = true
				break
			}
		}
		if !full && !(q.hasMin && q.minRisk > 0) {
			s.eng.Vehicles(func(vs engine.VehicleState) bool {
				w, risky := worst[vs.ID]
				if w > 0 || (q.hasMin && !risky) || !q.cur.after(0, vs.ID) || !s.vehicleMatches(&q, &vs) {
					return true
				}
				return take(vs, 0)
			})
		}
	} else {
		s.eng.Vehicles(func(vs engine.VehicleState) bool {
			if !q.cur.after(0, vs.ID) || !s.vehicleMatches(&q, &vs) {
				return true
			}
			w := worst[vs.ID]
			if q.hasMin && (w < q.minRisk || (q.minRisk == 0 && !hasKey(worst, vs.ID))) {
				return true
			}
			return take(vs, w)
		})
	}
	out := struct {
		Vehicles   []vehicleView `json:"vehicles"`
		Count      int           `json:"count"`
		NextCursor string        `json:"next_cursor,omitempty"`
	}{Vehicles: make([]vehicleView, len(states)), Count: len(states)}
	for i := range states {
		out.Vehicles[i] = s.view(&states[i])
		if worst != nil {
			r := risks[i]
			out.Vehicles[i].Risk = &r
		}
	}
	if more {
		last := len(states) - 1
		out.NextCursor = cursor{sort: q.sort, risk: risks[last], id: states[last].ID}.encode()
	}
	return c.JSON(out)
}

func hasKey(m map[string]float64, k string) bool {
	_, ok := m[k]
	return ok
}

// pathID returns the {id} path parameter, percent-decoded (ids may hold any
// printable character, "/" included as %2F).
func pathID(c *fiber.Ctx) (string, *Problem) {
	raw := c.Params("id")
	id, err := url.PathUnescape(raw)
	if err != nil {
		return "", badParam("id", raw, "bad percent-encoding")
	}
	return utils.CopyString(id), nil
}

// area is a query box: WGS84 degrees or engine-frame metres.
type area struct {
	geodetic               bool
	minX, minY, maxX, maxY float64 // lon/lat or x/y
}

// parseArea parses "a,b,c,d" as minLon,minLat,maxLon,maxLat (crs "" or
// "wgs84") or minX,minY,maxX,maxY (crs "frame"). The problem it returns
// names the parameter and what is wrong.
func parseArea(q, crs string) (*area, *Problem) {
	a := &area{}
	switch strings.ToLower(crs) {
	case "", "wgs84", "epsg:4326":
		a.geodetic = true
	case "frame":
	default:
		return nil, badParam("crs", crs, `want "wgs84" (default) or "frame"`)
	}
	parts := strings.Split(q, ",")
	names := [4]string{"minLon", "minLat", "maxLon", "maxLat"}
	if !a.geodetic {
		names = [4]string{"minX", "minY", "maxX", "maxY"}
	}
	want := strings.Join(names[:], ",")
	if len(parts) != 4 {
		return nil, badParam("bbox", q, "want 4 comma-separated numbers "+want+", got "+strconv.Itoa(len(parts)))
	}
	var v [4]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, badParam("bbox", q, names[i]+" is not a finite number: "+strconv.Quote(p))
		}
		v[i] = f
	}
	a.minX, a.minY, a.maxX, a.maxY = v[0], v[1], v[2], v[3]
	if a.geodetic {
		for i, lim := range [4]float64{180, 90, 180, 90} {
			if math.Abs(v[i]) > lim {
				return nil, badParam("bbox", q, names[i]+" out of range [-"+strconv.Itoa(int(lim))+", "+strconv.Itoa(int(lim))+"]")
			}
		}
		// minLon > maxLon is a box across the antimeridian; latitude has no wrap.
	} else if a.minX > a.maxX {
		return nil, badParam("bbox", q, "minX is greater than maxX")
	}
	if a.minY > a.maxY {
		return nil, badParam("bbox", q, names[1]+" is greater than "+names[3])
	}
	return a, nil
}

// contains reports whether v's position is inside the box.
func (a *area) contains(f *geo.Frame, v *abi.Vehicle) bool {
	if !a.geodetic {
		return v.X >= a.minX && v.X <= a.maxX && v.Y >= a.minY && v.Y <= a.maxY
	}
	lat, lon, _ := f.ToGeodetic(v.X, v.Y, v.Z)
	if lat < a.minY || lat > a.maxY {
		return false
	}
	if a.minX <= a.maxX {
		return lon >= a.minX && lon <= a.maxX
	}
	return lon >= a.minX || lon <= a.maxX
}

func parseLimit(q string, def, max int) (int, *Problem) {
	if q == "" {
		return def, nil
	}
	n, err := strconv.Atoi(q)
	if err != nil || n < 1 || n > max {
		return 0, badParam("limit", q, "want an integer in [1, "+strconv.Itoa(max)+"]")
	}
	return n, nil
}

// getRisks lists the open risks as they stand now, paged, optionally
// filtered.
//
//	GET /api/v1/risks[?sort=risk|id][&limit=N][&cursor=C][&min_risk=R]
//	    [&bbox=minLon,minLat,maxLon,maxLat[&crs=wgs84|frame]][&class=NAME[,NAME]]
//	    [&vehicle=ID][&resolving=true|false]
//
// sort=risk (default) lists the highest risk first, then by id; sort=id in
// id order. Each risk shows its current assessment (the last tick's, not its
// last event's) and "resolving": true while it is below min_risk_level -
// hysteresis and waits to resolve; resolving=false leaves those out,
// resolving=true lists only them. bbox and class keep the risks with either
// vehicle inside the box or of one of the classes. total is the number of
// risks that pass the filters; next_cursor is there while more follow (pass
// it back as cursor with the same sort; a risk whose risk changed between
// two pages may show on both or neither).
func (s *Server) getRisks(c *fiber.Ctx) error {
	q, p := s.parseListQuery(c, sortRisk)
	if p != nil {
		return p
	}
	resolving := 0 // -1: leave out, 1: only them
	if v := c.Query("resolving"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return badParam("resolving", v, "want true (only the risks waiting to resolve) or false (leave them out)")
		}
		resolving = -1
		if b {
			resolving = 1
		}
	}
	vehicle := c.Query("vehicle")
	rs := s.eng.Risks()
	keep := rs[:0]
	for i := range rs {
		r := &rs[i]
		switch {
		case vehicle != "" && r.VehicleA != vehicle && r.VehicleB != vehicle,
			q.hasMin && r.Risk < q.minRisk,
			resolving < 0 && r.Resolving,
			resolving > 0 && !r.Resolving,
			!s.riskMatches(&q, r):
			continue
		}
		keep = append(keep, *r)
	}
	rs = keep
	if q.sort == sortRisk {
		slices.SortFunc(rs, func(a, b engine.Risk) int { return byRiskThenID(a.Risk, a.ID, b.Risk, b.ID) })
	} // else Risks() is in id order already
	total := len(rs)
	start := 0
	if q.cur != nil {
		start, _ = slices.BinarySearchFunc(rs, q.cur, func(r engine.Risk, c *cursor) int {
			if c.after(r.Risk, r.ID) {
				return 1
			}
			return -1
		})
	}
	page := rs[start:]
	next := ""
	if len(page) > q.limit {
		page = page[:q.limit]
		last := &page[len(page)-1]
		next = cursor{sort: q.sort, risk: last.Risk, id: last.ID}.encode()
	}
	return c.JSON(struct {
		Risks      []engine.Risk `json:"risks"`
		Count      int           `json:"count"`
		Total      int           `json:"total"`
		NextCursor string        `json:"next_cursor,omitempty"`
	}{page, len(page), total, next})
}

// riskAnswer is one risk with its history.
type riskAnswer struct {
	Open   bool           `json:"open"`
	Risk   engine.Risk    `json:"risk"`
	Events []engine.Event `json:"events"`
}

// getRisk answers one risk: open (its current view) or closed (from the
// history), with its events from the history when there is one.
//
//	GET /api/v1/risks/{id}
func (s *Server) getRisk(c *fiber.Ctx) error {
	id, p := pathID(c)
	if p != nil {
		return p
	}
	r, open := s.eng.Risk(id)
	var evs []engine.Event
	if s.opts.History != nil {
		var err error
		if evs, err = s.opts.History.ByRisk(c.UserContext(), id); err != nil {
			return problem(fiber.StatusServiceUnavailable, "risk history unavailable: "+err.Error())
		}
	}
	if !open {
		if len(evs) == 0 {
			return problem(fiber.StatusNotFound, "unknown risk "+strconv.Quote(id),
				map[string]string{"id": id, "reason": "neither open nor in the history"})
		}
		last := &evs[len(evs)-1]
		r = engine.Risk{ID: last.RiskID, VehicleA: last.VehicleA, VehicleB: last.VehicleB, Risk: last.Risk,
			Time: last.Time, TCA: last.TCA, DMin: last.DMin, TIn: last.TIn, OpenedAt: last.OpenedAt,
			Seq: last.Seq, Model: last.Model}
	}
	if evs == nil {
		evs = []engine.Event{}
	}
	return c.JSON(riskAnswer{Open: open, Risk: r, Events: evs})
}

// getRiskHistory answers the risk events whose data time lies in [from, to),
// one page at a time.
//
//	GET /api/v1/risks/history?from=T&to=T[&vehicle=ID][&min_risk=R][&limit=1000][&cursor=C]
//
// T is RFC 3339 (2021-07-12T14:00:00Z) or Unix seconds (1626098400.5);
// either bound may be left out. min_risk in [0, 1] keeps events at least that
// risky. limit in [1, api.max_limit], default 1000. next_cursor, when present, is the cursor
// of the following page (pass it as cursor with the same filters); truncated
// says whether more events matched.
func (s *Server) getRiskHistory(c *fiber.Ctx) error {
	if s.opts.History == nil {
		return problem(fiber.StatusNotImplemented, "no risk history configured")
	}
	from, to, limit, p := s.timeWindow(c)
	if p != nil {
		return p
	}
	q := risk.Query{Vehicle: c.Query("vehicle"), After: c.Query("cursor"), Limit: limit}
	if v := c.Query("min_risk"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r < 0 || r > 1 || math.IsNaN(r) {
			return badParam("min_risk", v, "want a number in [0, 1]")
		}
		q.MinRisk = r
	}
	q.From, q.To = from, to
	page, err := s.opts.History.Query(c.UserContext(), q)
	if err != nil {
		if errors.Is(err, risk.ErrCursor) {
			return badParam("cursor", q.After, "not a cursor of this query's store; start without one")
		}
		return problem(fiber.StatusServiceUnavailable, "risk history unavailable: "+err.Error())
	}
	evs := page.Events
	if evs == nil {
		evs = []engine.Event{}
	}
	return c.JSON(struct {
		Events    []engine.Event `json:"events"`
		Count     int            `json:"count"`
		Truncated bool           `json:"truncated"`
		Next      string         `json:"next_cursor,omitempty"`
	}{evs, len(evs), page.Next != "", page.Next})
}

// parseTimeParam parses RFC 3339 or Unix seconds; "" is the zero Time.
func parseTimeParam(name, q string) (time.Time, *Problem) {
	if q == "" {
		return time.Time{}, nil
	}
	if f, err := strconv.ParseFloat(q, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e11 {
			return time.Time{}, badParam(name, q, "Unix seconds out of range")
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)), nil
	}
	t, err := time.Parse(time.RFC3339Nano, q)
	if err != nil {
		return time.Time{}, badParam(name, q, "want RFC 3339 (2021-07-12T14:00:00Z) or Unix seconds")
	}
	return t, nil
}
