package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkMapView100k measures GET /api/v1/map over a loopback listener
// with 100,000 vehicles on a 300 km lattice: the zoomed-out view (the whole
// fleet in the box: a density grid) and a city-sized view (every vehicle
// listed), as the dashboard asks them. It reports the answer's size; the
// engine's read lock is held for the one pass over the state table.
func BenchmarkMapView100k(b *testing.B) {
	h := newHarness(b, nil, nil)
	defer h.stop()
	now := nowUnix()
	for k := 0; k < 100; k++ {
		var parts []string
		for i := range 1000 {
			v := k*1000 + i
			parts = append(parts, fmt.Sprintf(`{"id":"veh-%07d","t":%.3f,"lat":%.6f,"lon":%.6f,"alt":%d,"speed":10,"track":%d}`,
				v, now, 50.1+float64(v%316)*0.009, -2.4+float64(v/316)*0.0145, 60+v%80, v*37%360))
		}
		h.ingest("[" + strings.Join(parts, ",") + "]")
	}
	h.eng.Tick()
	for _, c := range []struct{ name, query string }{
		{"overview", "bbox=-3,49.5,3,53.5&grid=160,90"},
		{"city", "bbox=-0.2,51.4,0.0,51.55&grid=160,90"},
	} {
		b.Run(c.name, func(b *testing.B) {
			var m mapAnswer
			h.get("/api/v1/map?"+c.query).json(b, &m)
			size := len(h.get("/api/v1/map?" + c.query).body)
			b.ResetTimer()
			for b.Loop() {
				if a := h.get("/api/v1/map?" + c.query); a.status != http.StatusOK {
					b.Fatal(a.status)
				}
			}
			b.ReportMetric(float64(m.Total), "vehicles-in-box")
			b.ReportMetric(float64(size)/1024, "KiB/answer")
			b.Logf("%s: mode %s, %d vehicles in the box, %d listed, %d bytes", c.name, m.Mode, m.Total, len(m.Vehicles), size)
		})
	}
}
