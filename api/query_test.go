package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"
)

type vehicleList struct {
	Vehicles []struct {
		ID       string  `json:"id"`
		X        float64 `json:"x"`
		Lat, Lon float64
	} `json:"vehicles"`
	Count      int    `json:"count"`
	NextCursor string `json:"next_cursor"`
}

// 25 vehicles on a 5 x 5 lattice 1 km apart; paging returns each exactly once,
// in id order; a box returns those inside it.
func TestVehiclesPagingAndBox(t *testing.T) {
	h := newHarness(t, nil, nil)
	now := nowUnix()
	var parts, want []string
	for i := range 5 {
		for j := range 5 {
			id := fmt.Sprintf("v%d%d", i, j)
			want = append(want, id)
			parts = append(parts, rec(id, now, float64(i)*1000, float64(j)*1000, 100, 0, 0))
		}
	}
	// A slash in an id travels percent-encoded.
	parts = append(parts, rec("fleet/7", now, 9000, 9000, 100, 0, 0))
	want = append(want, "fleet/7")
	sort.Strings(want)
	if r := h.ingest("[" + strings.Join(parts, ",") + "]"); r.Accepted != 26 {
		t.Fatal(r)
	}
	h.eng.Tick()

	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		var l vehicleList
		a := h.get("/api/v1/vehicles?limit=7&cursor=" + url.QueryEscape(cursor))
		if a.status != http.StatusOK {
			t.Fatalf("status %d: %s", a.status, a.body)
		}
		a.json(t, &l)
		if l.Count != len(l.Vehicles) || l.Count > 7 {
			t.Fatalf("page of %d (count %d)", len(l.Vehicles), l.Count)
		}
		for _, v := range l.Vehicles {
			got = append(got, v.ID)
		}
		if l.NextCursor == "" {
			break
		}
		cursor = l.NextCursor
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("paged ids %v, want %v", got, want)
	}
	if a := h.get("/api/v1/vehicles/" + url.PathEscape("fleet/7")); a.status != http.StatusOK {
		t.Fatalf("fleet/7: %d %s", a.status, a.body)
	}

	// Frame box: x in [500, 2500], y in [-1, 1000] holds v10, v11, v20, v21.
	var l vehicleList
	h.get("/api/v1/vehicles?crs=frame&bbox=500,-1,2500,1000").json(t, &l)
	ids := []string{}
	for _, v := range l.Vehicles {
		ids = append(ids, v.ID)
	}
	if fmt.Sprint(ids) != "[v10 v11 v20 v21]" {
		t.Fatalf("frame box: %v", ids)
	}
	// The same box in WGS84 (the lattice's corner vehicles give its extent).
	var c1, c2 struct{ Lat, Lon float64 }
	h.get("/api/v1/vehicles/v10").json(t, &c1)
	h.get("/api/v1/vehicles/v21").json(t, &c2)
	q := fmt.Sprintf("%f,%f,%f,%f", c1.Lon-1e-5, c1.Lat-1e-5, c2.Lon+1e-5, c2.Lat+1e-5)
	l = vehicleList{}
	h.get("/api/v1/vehicles?bbox="+q).json(t, &l)
	ids = ids[:0]
	for _, v := range l.Vehicles {
		ids = append(ids, v.ID)
	}
	if fmt.Sprint(ids) != "[v10 v11 v20 v21]" {
		t.Fatalf("WGS84 box %s: %v", q, ids)
	}
}

func TestQueryBadInput(t *testing.T) {
	h := newHarness(t, nil, nil)
	cases := []struct {
		path, param, says string
	}{
		{"/api/v1/vehicles?bbox=1,2,3", "bbox", "4 comma-separated numbers"},
		{"/api/v1/vehicles?bbox=a,2,3,4", "bbox", "minLon is not a finite number"},
		{"/api/v1/vehicles?bbox=0,NaN,1,1", "bbox", "minLat is not a finite number"},
		{"/api/v1/vehicles?bbox=0,1,1,Inf", "bbox", "maxLat is not a finite number"},
		{"/api/v1/vehicles?bbox=0,91,1,92", "bbox", "minLat out of range"},
		{"/api/v1/vehicles?bbox=-181,0,1,1", "bbox", "minLon out of range"},
		{"/api/v1/vehicles?bbox=0,10,1,5", "bbox", "minLat is greater than maxLat"},
		{"/api/v1/vehicles?crs=frame&bbox=10,0,5,1", "bbox", "minX is greater than maxX"},
		{"/api/v1/vehicles?crs=mars&bbox=0,0,1,1", "crs", `want "wgs84"`},
		{"/api/v1/vehicles?limit=0", "limit", "[1, 10000]"},
		{"/api/v1/vehicles?limit=ten", "limit", "[1, 10000]"},
		{"/api/v1/vehicles?cursor=***", "cursor", "not a cursor"},
		{"/api/v1/risks/history?from=yesterday", "from", "RFC 3339"},
		{"/api/v1/risks/history?to=NaN", "to", "out of range"},
		{"/api/v1/risks/history?from=2021-07-12T14:00:00Z&to=2021-07-12T13:00:00Z", "to", "before from"},
		{"/api/v1/risks/history?limit=100000", "limit", "[1, 10000]"},
		{"/api/v1/risks/stream?bbox=1,1,1", "bbox", "4 comma-separated"},
		{"/api/v1/risks/stream?crs=frame", "crs", "needs a bbox"},
		{"/api/v1/vehicles?crs=frame", "crs", "needs a bbox"},
	}
	for _, c := range cases {
		a := h.get(c.path)
		if a.status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400: %s", c.path, a.status, a.body)
			continue
		}
		msg, det := a.problem(t)
		if len(det) != 1 || det[0]["param"] != c.param || !strings.Contains(msg, c.says) {
			t.Errorf("%s: message %q details %v; want param %q and %q", c.path, msg, det, c.param, c.says)
		}
	}
}

func TestUnknownVehicleAndRisk(t *testing.T) {
	h := newHarness(t, nil, nil)
	a := h.get("/api/v1/vehicles/ghost-42")
	if a.status != http.StatusNotFound {
		t.Fatalf("status %d", a.status)
	}
	if msg, _ := a.problem(t); !strings.Contains(msg, `"ghost-42"`) {
		t.Fatalf("404 does not name the vehicle: %q", msg)
	}
	a = h.get("/api/v1/risks/r-0000")
	if a.status != http.StatusNotFound {
		t.Fatalf("status %d", a.status)
	}
	if msg, _ := a.problem(t); !strings.Contains(msg, `"r-0000"`) {
		t.Fatalf("404 does not name the risk: %q", msg)
	}
	a = h.get("/api/v1/nothing-here")
	if a.status != http.StatusNotFound {
		t.Fatalf("status %d", a.status)
	}
	a.problem(t)
}

type riskJSON struct {
	ID       string  `json:"id"`
	VehicleA string  `json:"vehicle_a"`
	VehicleB string  `json:"vehicle_b"`
	Risk     float64 `json:"risk"`
}

type eventJSON struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	RiskID string `json:"risk_id"`
	Reason string `json:"reason"`
}

// A risk opens, is listed, is served while open, resolves, and is then served
// from the history, which also answers a time range.
func TestRiskLifecycle(t *testing.T) {
	h := newHarness(t, nil, nil)
	t0 := nowUnix() - 10
	h.ingest(conflictPair("a", "b", t0))
	h.eng.Tick()

	var list struct {
		Risks []riskJSON `json:"risks"`
		Count int        `json:"count"`
	}
	h.get("/api/v1/risks").json(t, &list)
	if list.Count != 1 || list.Risks[0].VehicleA != "a" || list.Risks[0].VehicleB != "b" || list.Risks[0].Risk < 0.5 {
		t.Fatalf("open risks: %+v", list)
	}
	id := list.Risks[0].ID
	list.Risks = nil
	h.get("/api/v1/risks?vehicle=b").json(t, &list)
	if len(list.Risks) != 1 {
		t.Fatalf("risks of b: %+v", list)
	}
	list.Risks = nil
	h.get("/api/v1/risks?vehicle=zz").json(t, &list)
	if len(list.Risks) != 0 {
		t.Fatalf("risks of zz: %+v", list)
	}

	var one struct {
		Open   bool        `json:"open"`
		Risk   riskJSON    `json:"risk"`
		Events []eventJSON `json:"events"`
	}
	h.get("/api/v1/risks/"+id).json(t, &one)
	if !one.Open || one.Risk.ID != id || len(one.Events) != 1 || one.Events[0].Type != "opened" {
		t.Fatalf("open risk: %+v", one)
	}

	// Turn them apart: diverging, 2 km apart.
	h.ingest("[" + rec("a", t0+1, -1000, 0, 100, -10, 0) + "," + rec("b", t0+1, 1000, 0, 100, 10, 0) + "]")
	h.eng.Tick()
	one = struct {
		Open   bool        `json:"open"`
		Risk   riskJSON    `json:"risk"`
		Events []eventJSON `json:"events"`
	}{}
	a := h.get("/api/v1/risks/" + id)
	if a.status != http.StatusOK {
		t.Fatalf("resolved risk: status %d: %s", a.status, a.body)
	}
	a.json(t, &one)
	if one.Open || one.Risk.ID != id || len(one.Events) != 2 || one.Events[1].Type != "resolved" || one.Events[1].Reason != "separated" {
		t.Fatalf("resolved risk: %+v", one)
	}

	var hist struct {
		Events    []eventJSON `json:"events"`
		Count     int         `json:"count"`
		Truncated bool        `json:"truncated"`
		Next      string      `json:"next_cursor"`
	}
	from := time.Unix(int64(t0)-1, 0).UTC().Format(time.RFC3339)
	h.get(fmt.Sprintf("/api/v1/risks/history?from=%s&to=%f", from, t0+2)).json(t, &hist)
	if hist.Count != 2 || hist.Truncated {
		t.Fatalf("history: %+v", hist)
	}
	hist.Events = nil
	h.get(fmt.Sprintf("/api/v1/risks/history?from=%f&limit=1", t0+0.5)).json(t, &hist)
	if hist.Count != 1 || hist.Events[0].Type != "resolved" || hist.Truncated {
		t.Fatalf("history from t0+0.5: %+v", hist)
	}
	hist.Events = nil
	h.get("/api/v1/risks/history?limit=1").json(t, &hist)
	if hist.Count != 1 || !hist.Truncated || hist.Next == "" || hist.Events[0].Type != "opened" {
		t.Fatalf("history limit 1: %+v", hist)
	}
	// The cursor gives the next page, which is the last.
	next := hist.Next
	hist.Events, hist.Next = nil, ""
	h.get("/api/v1/risks/history?limit=1&cursor="+next).json(t, &hist)
	if hist.Count != 1 || hist.Truncated || hist.Next != "" || hist.Events[0].Type != "resolved" {
		t.Fatalf("history second page: %+v", hist)
	}
	if a := h.get("/api/v1/risks/history?min_risk=1.5"); a.status != http.StatusBadRequest || !strings.Contains(string(a.body), "min_risk") {
		t.Fatalf("min_risk 1.5: %d %s", a.status, a.body)
	}
	hist.Events = nil
	h.get(fmt.Sprintf("/api/v1/risks/history?min_risk=%f", hist2Risk(h)+0.0001)).json(t, &hist)
	if hist.Count != 0 {
		t.Fatalf("min_risk above every risk: %+v", hist)
	}
	if a := h.get("/api/v1/risks/history?cursor=zzz"); a.status != http.StatusBadRequest || !strings.Contains(string(a.body), "cursor") {
		t.Fatalf("bad cursor: %d %s", a.status, a.body)
	}
	hist.Events = nil
	h.get(fmt.Sprintf("/api/v1/risks/history?to=%f", t0-100)).json(t, &hist)
	if hist.Count != 0 || hist.Events == nil {
		t.Fatalf("empty history must be an empty array: %+v", hist)
	}

}

// hist2Risk is the highest risk in the harness's history.
func hist2Risk(h *harness) float64 {
	evs, _ := h.hist.Range(context.Background(), time.Time{}, time.Time{}, "", 0)
	m := 0.0
	for _, e := range evs {
		m = max(m, e.Risk)
	}
	return m
}
