package api

import (
	"runtime"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
)

// Every route the server registers has exactly one row in routePolicy, and
// every row names a registered route: a new route without a decided role
// fails here (and, at run time, needs the admin role).
func TestEveryRouteHasOnePolicy(t *testing.T) {
	s := newTestServer(t, &nopEngine{})
	rows := map[string]int{}
	for _, r := range routePolicy {
		rows[r.method+" "+r.path]++
	}
	routes := map[string]bool{}
	for _, r := range s.App().GetRoutes(true) {
		if r.Method == fiber.MethodHead {
			continue
		}
		key := r.Method + " " + r.Path
		routes[key] = true
		if rows[key] != 1 {
			t.Errorf("route %s has %d rows in routePolicy (api/auth.go), want 1: decide who may call it", key, rows[key])
		}
	}
	for key := range rows {
		if !routes[key] {
			t.Errorf("routePolicy row %s names no registered route", key)
		}
	}
}

// A 16 MB body of empty objects is refused at api.max_batch records: the
// request costs memory in proportion to the limit, not to the body (it used
// to decode 5 million refused records, 1.25 GB, before its 413).
func TestMaxBatchStopsDecoding(t *testing.T) {
	s, err := New(Options{Engine: &nopEngine{}, Registerer: prometheus.NewRegistry(), MaxBatch: 10000, BodyLimit: 17 << 20})
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 0, 16<<20)
	body = append(body, '[')
	for len(body) < 16<<20-4 {
		body = append(body, "{},"...)
	}
	body = append(body, "{}]"...)
	h := s.App().Handler()
	var ctx fasthttp.RequestCtx
	serveIngest(h, &ctx, body) // warm the pools
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	serveIngest(h, &ctx, body)
	runtime.ReadMemStats(&after)
	if st := ctx.Response.StatusCode(); st != fiber.StatusRequestEntityTooLarge || !strings.Contains(string(ctx.Response.Body()), "api.max_batch") {
		t.Fatalf("16 MB of {}: %d %s", st, ctx.Response.Body())
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Fatalf("refusing a 16 MB batch of {} allocated %d MB, want it bounded by api.max_batch", alloc>>20)
	}
}
