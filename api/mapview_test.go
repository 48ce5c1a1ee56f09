package api_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"testing"
)

type mapAnswer struct {
	Mode     string `json:"mode"`
	Total    int    `json:"total"`
	Vehicles []struct {
		ID       string
		Lat, Lon float64
		Alt      float64
		Track    float64
		Speed    float64
	} `json:"vehicles"`
	Density *struct {
		Cols, Rows int
		BBox       [4]float64
		Max        uint32
		Counts     []uint32
	} `json:"density"`
	Risky   []struct{ ID string } `json:"risky"`
	Horizon float64               `json:"horizon_s"`
}

// GET /api/v1/map answers the vehicles of a box one by one while there are
// at most max of them, and a density grid (plus the vehicles in risks)
// beyond: the same vehicles as GET /api/v1/vehicles for that box, the grid
// counting each of them once in the right cell.
func TestMapListsOrAggregatesTheBox(t *testing.T) {
	h := newHarness(t, nil, nil)
	now := nowUnix()
	rng := rand.New(rand.NewPCG(1, 2))
	var parts []string
	for i := range 600 {
		x, y := rng.Float64()*20000-10000, rng.Float64()*20000-10000
		parts = append(parts, rec(fmt.Sprintf("v%03d", i), now, x, y, 100+float64(i%50)*100, 10, 0))
	}
	h.ingest("[" + strings.Join(parts, ",") + "]")
	h.ingest(conflictPair("pa", "pb", now))
	// An id that needs escaping, beside the pair.
	odd := `q"uo\\te/ü ✈`
	h.ingest("[" + rec(odd, now, 5, 5, 100, 0, 0) + "]")
	h.eng.Tick()

	// A box holding part of the traffic.
	box := "-0.2,51.45,-0.05,51.55"
	var all []string
	cursor := ""
	for {
		var l vehicleList
		h.get("/api/v1/vehicles?limit=10000&bbox="+box+"&cursor="+cursor).json(t, &l)
		for _, v := range l.Vehicles {
			all = append(all, v.ID)
		}
		if cursor = l.NextCursor; cursor == "" {
			break
		}
	}
	if len(all) < 100 || len(all) > 590 {
		t.Fatalf("box %s holds %d vehicles: want a part of the 602", box, len(all))
	}

	var m mapAnswer
	if a := h.get("/api/v1/map?bbox=" + box); a.status != http.StatusOK {
		t.Fatalf("%d %s", a.status, a.body)
	} else {
		a.json(t, &m)
	}
	var got []string
	for _, v := range m.Vehicles {
		got = append(got, v.ID)
	}
	sort.Strings(got)
	sort.Strings(all)
	if m.Mode != "vehicles" || m.Total != len(all) || fmt.Sprint(got) != fmt.Sprint(all) {
		t.Fatalf("mode %s total %d, %d listed; want every one of the %d vehicles of GET /api/v1/vehicles", m.Mode, m.Total, len(got), len(all))
	}
	if m.Horizon != 30 {
		t.Fatalf("horizon_s %g, want the default 30", m.Horizon)
	}
	found := false
	for _, v := range m.Vehicles {
		found = found || v.ID == odd
		if v.ID == "pa" && (v.Speed < 9.9 || v.Speed > 10.1 || v.Track < 89 || v.Track > 91) {
			t.Fatalf("pa moves east at 10 m/s: %+v", v)
		}
	}
	if !found {
		t.Fatalf("the vehicle %q is not listed as it was sent", odd)
	}

	// More than max: the density grid counts every vehicle once, in its cell.
	m = mapAnswer{}
	h.get("/api/v1/map?max=50&grid=8,4&bbox="+box).json(t, &m)
	if m.Mode != "density" || m.Total != len(all) || len(m.Vehicles) != 0 || m.Density == nil {
		t.Fatalf("over max: mode %s total %d vehicles %d density %v", m.Mode, m.Total, len(m.Vehicles), m.Density != nil)
	}
	d := m.Density
	if d.Cols != 8 || d.Rows != 4 || len(d.Counts) != 32 {
		t.Fatalf("grid %dx%d with %d counts", d.Cols, d.Rows, len(d.Counts))
	}
	sum, max := 0, uint32(0)
	for _, n := range d.Counts {
		sum += int(n)
		max = maxU(max, n)
	}
	if sum != len(all) || max != d.Max {
		t.Fatalf("counts sum %d (want %d), max %d (answered %d)", sum, len(all), max, d.Max)
	}
	// Each listed vehicle's cell has at least one count: check the cells
	// hold exactly the per-cell tallies computed here.
	want := make([]uint32, 32)
	var full mapAnswer
	h.get("/api/v1/map?bbox="+box).json(t, &full)
	for _, v := range full.Vehicles {
		c := int((v.Lon - d.BBox[0]) / (d.BBox[2] - d.BBox[0]) * 8)
		r := int((d.BBox[3] - v.Lat) / (d.BBox[3] - d.BBox[1]) * 4)
		want[min(r, 3)*8+min(c, 7)]++
	}
	if fmt.Sprint(want) != fmt.Sprint(d.Counts) {
		t.Fatalf("cells %v, want %v", d.Counts, want)
	}
	// The conflict pair is in the box: aggregated traffic still shows it.
	risky := map[string]bool{}
	for _, v := range m.Risky {
		risky[v.ID] = true
	}
	if !risky["pa"] || !risky["pb"] {
		t.Fatalf("risky %v: want the open risk's pair pa, pb", m.Risky)
	}

	// A box with nothing in it, across the antimeridian.
	m = mapAnswer{}
	h.get("/api/v1/map?bbox=170,-10,-170,10").json(t, &m)
	if m.Mode != "vehicles" || m.Total != 0 || m.Vehicles == nil {
		t.Fatalf("empty box: %+v", m)
	}
}

func maxU(a, b uint32) uint32 { return max(a, b) }

func TestMapBadInput(t *testing.T) {
	h := newHarness(t, nil, nil)
	for _, c := range []struct{ query, param string }{
		{"", "bbox"},
		{"bbox=1,2,3", "bbox"},
		{"bbox=0,10,1,10", "bbox"},
		{"bbox=0,0,1,1&max=0", "max"},
		{"bbox=0,0,1,1&max=20001", "max"},
		{"bbox=0,0,1,1&grid=10", "grid"},
		{"bbox=0,0,1,1&grid=0,10", "grid"},
		{"bbox=0,0,1,1&grid=512,512", "grid"},
	} {
		a := h.get("/api/v1/map?" + c.query)
		if a.status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", c.query, a.status)
			continue
		}
		msg, details := a.problem(t)
		if len(details) == 0 || details[0]["param"] != c.param {
			t.Errorf("%s: %q %v: want the parameter %q named", c.query, msg, details, c.param)
		}
	}
}
