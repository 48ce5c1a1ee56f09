package api_test

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/collision-detection-platform/distributed-platform/api"
	"github.com/collision-detection-platform/distributed-platform/builtin"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
)

// Ingest a batch with one bad record, tick the engine, read a vehicle back.
func Example() {
	eng, _ := engine.New(engine.Default(), engine.Models{Predictor: builtin.Predictor{}, Scorer: builtin.Scorer{}})
	srv, _ := api.New(api.Options{
		Engine:     eng,
		Registerer: prometheus.NewRegistry(),
		Now:        func() time.Time { return time.Unix(1_700_000_000, 0) },
	})
	do := func(method, path, body string) string {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, _ := srv.App().Test(req)
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprint(resp.StatusCode, " ", strings.TrimSpace(string(b)))
	}
	fmt.Println(do("POST", "/api/v1/locations", `[
		{"id":"drone-1","t":1700000000,"x":10,"y":20,"z":30,"speed":12,"track":90},
		{"id":"drone-2","t":1700000000,"x":10,"y":20}
	]`))
	eng.Tick()
	fmt.Println(do("GET", "/api/v1/vehicles/drone-2", ""))
	// Output:
	// 202 {"accepted":1,"rejected":1,"errors":[{"index":1,"id":"drone-2","field":"z","reason":"position_partial","offset":82}]}
	// 404 {"error":"unknown vehicle \"drone-2\"","details":[{"id":"drone-2","reason":"not in the state table (never seen, or expired)"}]}
}
