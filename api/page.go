package api

import (
	"cmp"
	"encoding/base64"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/collision-detection-platform/distributed-platform/host/engine"
)

// Sort orders of the list endpoints.
const (
	sortRisk = "risk" // highest risk first, then id
	sortID   = "id"   // id order
)

// cursor is where a page ended: the sort it belongs to and the sort key of
// the last item (risk and id). It travels as opaque base64url text; a client
// passes next_cursor back unchanged.
type cursor struct {
	sort string
	risk float64
	id   string
}

// encode renders the cursor. Ids never hold control characters (ingest
// refuses them), so NUL separates the parts.
func (c cursor) encode() string {
	s := c.sort + "\x00" + strconv.FormatFloat(c.risk, 'g', -1, 64) + "\x00" + c.id
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

// parseCursor decodes q for sort order; "" is the first page (nil).
func parseCursor(q, sort string) (*cursor, *Problem) {
	if q == "" {
		return nil, nil
	}
	bad := func(why string) (*cursor, *Problem) { return nil, badParam("cursor", q, why) }
	b, err := base64.RawURLEncoding.DecodeString(q)
	if err != nil {
		return bad("not a cursor from a previous answer")
	}
	parts := strings.SplitN(string(b), "\x00", 3)
	if len(parts) != 3 || parts[2] == "" {
		return bad("not a cursor from a previous answer")
	}
	r, err := strconv.ParseFloat(parts[1], 64)
	if err != nil || math.IsNaN(r) {
		return bad("not a cursor from a previous answer")
	}
	if parts[0] != sort {
		return bad("the cursor belongs to sort=" + parts[0] + ", not sort=" + sort + ": pass the same sort on every page")
	}
	return &cursor{sort: parts[0], risk: r, id: parts[2]}, nil
}

// after reports whether an item with key (risk, id) comes after the cursor.
func (c *cursor) after(risk float64, id string) bool {
	if c == nil {
		return true
	}
	if c.sort == sortRisk && risk != c.risk {
		return risk < c.risk
	}
	return id > c.id
}

// byRiskThenID orders highest risk first, then by id.
func byRiskThenID(ra float64, ia string, rb float64, ib string) int {
	if c := cmp.Compare(rb, ra); c != 0 {
		return c
	}
	return strings.Compare(ia, ib)
}

// listQuery holds the parameters the list endpoints share.
type listQuery struct {
	limit   int
	sort    string
	cur     *cursor
	minRisk float64 // 0: no filter
	hasMin  bool
	box     *area
	classes []uint32 // nil: any class
}

// parseListQuery reads limit, sort, cursor, min_risk, bbox/crs and class.
func (s *Server) parseListQuery(c *fiber.Ctx, defSort string) (listQuery, *Problem) {
	var q listQuery
	var p *Problem
	if q.limit, p = parseLimit(c.Query("limit"), s.opts.DefaultLimit, s.opts.MaxLimit); p != nil {
		return q, p
	}
	switch q.sort = c.Query("sort", defSort); q.sort {
	case sortRisk, sortID:
	default:
		return q, badParam("sort", q.sort, `want "risk" (highest first) or "id"`)
	}
	if q.cur, p = parseCursor(c.Query("cursor"), q.sort); p != nil {
		return q, p
	}
	if v := c.Query("min_risk"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f >= 0 && f <= 1) {
			return q, badParam("min_risk", v, "want a number in [0, 1]")
		}
		q.minRisk, q.hasMin = f, true
	}
	if v := c.Query("bbox"); v != "" {
		if q.box, p = parseArea(v, c.Query("crs")); p != nil {
			return q, p
		}
	} else if crs := c.Query("crs"); crs != "" {
		return q, badParam("crs", crs, "crs needs a bbox")
	}
	if v := c.Query("class"); v != "" {
		classes := s.opts.Validator.Classes()
		for _, name := range strings.Split(v, ",") {
			id, ok := classes.Lookup([]byte(strings.TrimSpace(name)))
			if !ok {
				return q, badParam("class", v, "no class "+strconv.Quote(name)+" in collision_detection.classes")
			}
			q.classes = append(q.classes, id)
		}
	}
	return q, nil
}

// vehicleMatches reports whether a vehicle passes the box and class filters.
func (s *Server) vehicleMatches(q *listQuery, vs *engine.VehicleState) bool {
	if q.box != nil && !q.box.contains(s.opts.Frame, &vs.State) {
		return false
	}
	return q.classes == nil || slices.Contains(q.classes, vs.State.Class)
}

// riskMatches reports whether either vehicle of r passes the box and class
// filters (a risk with a vehicle that has just expired passes on the other).
func (s *Server) riskMatches(q *listQuery, r *engine.Risk) bool {
	if q.box == nil && q.classes == nil {
		return true
	}
	for _, id := range [2]string{r.VehicleA, r.VehicleB} {
		if vs, ok := s.eng.Vehicle(id); ok && s.vehicleMatches(q, &vs) {
			return true
		}
	}
	return false
}
