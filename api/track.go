package api

import (
	"context"

	"github.com/gofiber/fiber/v2"
)

// TrackPoint is one stored position of a vehicle, in the engine frame, as
// the stores keep it (one per vehicle per database.location_interval).
type TrackPoint struct {
	T          float64
	X, Y, Z    float64
	VX, VY, VZ float64
	Alt        float64
}

// Tracks reads stored vehicle positions (the embedded store under
// system.data_dir, or PostgreSQL).
type Tracks interface {
	// Track returns the positions of vehicle id with data time in [from,
	// to) (0 = open), oldest first, at most limit.
	Track(ctx context.Context, id string, from, to float64, limit int) ([]TrackPoint, error)
}

// trackPoint is a TrackPoint as the API shows it.
type trackPoint struct {
	T   float64 `json:"t"`
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
	Alt float64 `json:"alt"`
	X   float64 `json:"x"`
	Y   float64 `json:"y"`
	Z   float64 `json:"z"`
	VX  float64 `json:"vx"`
	VY  float64 `json:"vy"`
	VZ  float64 `json:"vz"`
}

// getTrack answers a vehicle's stored positions over a time range.
//
//	GET /api/v1/vehicles/{id}/track?from=T&to=T[&limit=N]
//
// T is RFC 3339 or Unix seconds; either bound may be left out. limit in [1,
// api.max_limit], default 1000; truncated says whether more positions
// matched (ask again with from = the last t + a little).
func (s *Server) getTrack(c *fiber.Ctx) error {
	id, p := pathID(c)
	if p != nil {
		return p
	}
	if s.opts.Tracks == nil {
		return problem(fiber.StatusNotImplemented, "no track store: set system.data_dir or database.postgres.dsn")
	}
	lo, hi, limit, p := s.timeWindow(c)
	if p != nil {
		return p
	}
	pts, err := s.opts.Tracks.Track(c.UserContext(), id, lo, hi, limit+1)
	if err != nil {
		return problem(fiber.StatusServiceUnavailable, "track store unavailable: "+err.Error())
	}
	truncated := len(pts) > limit
	if truncated {
		pts = pts[:limit]
	}
	out := make([]trackPoint, len(pts))
	for i, pt := range pts {
		lat, lon, _ := s.opts.Frame.ToGeodetic(pt.X, pt.Y, pt.Z)
		m := func(v float64) float64 { return roundTo(v, metreDecimals) }
		out[i] = trackPoint{T: roundTo(pt.T, timeDecimals), Lat: roundTo(lat, degreeDecimals), Lon: roundTo(lon, degreeDecimals),
			Alt: m(pt.Alt), X: m(pt.X), Y: m(pt.Y), Z: m(pt.Z), VX: m(pt.VX), VY: m(pt.VY), VZ: m(pt.VZ)}
	}
	return c.JSON(struct {
		ID        string       `json:"id"`
		Points    []trackPoint `json:"points"`
		Count     int          `json:"count"`
		Truncated bool         `json:"truncated"`
	}{id, out, len(out), truncated})
}

// timeWindow reads the query parameters from and to (RFC 3339 or Unix
// seconds, either may be left out: 0) and limit (in [1, api.max_limit],
// default 1000) that the history and track endpoints share.
func (s *Server) timeWindow(c *fiber.Ctx) (from, to float64, limit int, p *Problem) {
	f, p := parseTimeParam("from", c.Query("from"))
	if p != nil {
		return 0, 0, 0, p
	}
	t, p := parseTimeParam("to", c.Query("to"))
	if p != nil {
		return 0, 0, 0, p
	}
	if !f.IsZero() && !t.IsZero() && t.Before(f) {
		return 0, 0, 0, badParam("to", c.Query("to"), "to is before from")
	}
	limit, p = parseLimit(c.Query("limit"), min(defaultEventLimit, s.opts.MaxLimit), s.opts.MaxLimit)
	if p != nil {
		return 0, 0, 0, p
	}
	if !f.IsZero() {
		from = float64(f.UnixNano()) / 1e9
	}
	if !t.IsZero() {
		to = float64(t.UnixNano()) / 1e9
	}
	return from, to, limit, nil
}
