package api_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// A vehicle comes back with the numbers it was sent with: the README's drone
// at 51.5010, -0.1200 moving east at 12 m/s shows lat 51.501, vx 12, vz 0 —
// not 51.50099999999998 or -2.7e-18 from the frame round trip — and no number
// of the answer carries more digits than a position source reports.
func TestVehicleNumbersAsSent(t *testing.T) {
	h := newHarness(t, nil, nil)
	now := nowUnix()
	body := fmt.Sprintf(`[{"id":"drone-1","t":%.0f,"lat":51.5010,"lon":-0.1200,"alt":80,"vx":12,"vy":0,"vz":0},
		{"id":"drone-2","t":%.0f,"lat":51.4873,"lon":-0.1063,"alt":85.25,"speed":20.5,"track":271.3,"vrate":-1.5}]`, now, now)
	if r := h.ingest(body); r.Accepted != 2 {
		t.Fatal(r)
	}
	h.eng.Tick()
	a := h.get("/api/v1/vehicles/drone-1")
	abody := string(a.body)
	for _, want := range []string{`"lat":51.501,`, `"lon":-0.12,`, `"alt":80,`, `"vx":12,`, `"vz":0,`, `"speed":12,`, `"track":90,`} {
		if !strings.Contains(abody, want) {
			t.Errorf("drone-1 lacks %s: %s", want, abody)
		}
	}
	b := h.get("/api/v1/vehicles/drone-2")
	bbody := string(b.body)
	for _, want := range []string{`"lat":51.4873,`, `"lon":-0.1063,`, `"alt":85.25,`, `"speed":20.5,`, `"track":271.3,`, `"vrate":-1.5,`} {
		if !strings.Contains(bbody, want) {
			t.Errorf("drone-2 lacks %s: %s", want, bbody)
		}
	}
	long := regexp.MustCompile(`[0-9]\.[0-9]{8,}|[0-9]e-[0-9]+`)
	for _, s := range []string{abody, bbody, string(h.get("/api/v1/vehicles").body)} {
		if m := long.FindAllString(s, -1); len(m) > 0 {
			t.Errorf("numbers with more digits than any input carries: %v in %s", m, s)
		}
	}
}
