package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/api"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
)

// Hammer: ingest, every query, streams and the engine ticking at once (run
// with -race). Every answer is one the endpoint documents, and every
// accepted record is applied in the end.
func TestHammer(t *testing.T) {
	if testing.Short() {
		t.Skip("hammer")
	}
	h := newHarness(t, func(o *api.Options) { o.StreamBuffer = 8 }, func(c *engine.Config) {
		c.ProcessingInterval = 5 * time.Millisecond
	})
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- h.eng.Run(ctx) }()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted, dropped := 0, 0 // dropped: listed as stale, duplicate or late
	fail := func(format string, args ...any) {
		t.Errorf(format, args...)
	}
	for w := range 3 { // ingest: converging pairs so that risks open and resolve
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				t0 := nowUnix() - 1
				var parts []string
				for j := range 20 {
					x := float64(j*3000 + w*100000)
					off := float64(i%10) * 40
					parts = append(parts, rec(fmt.Sprintf("h%d-%d-a", w, j), t0, x+off, 0, 100, 10, 0),
						rec(fmt.Sprintf("h%d-%d-b", w, j), t0, x+400-off, 0, 100, -10, 0))
				}
				a := h.post("/api/v1/locations", "["+strings.Join(parts, ",")+"]")
				if a.status != http.StatusAccepted {
					fail("ingest: %d %s", a.status, a.body)
					return
				}
				var r ingestResult
				a.json(t, &r)
				mu.Lock()
				accepted += r.Accepted
				for _, e := range r.Errors {
					switch e.Reason {
					case "stale", "duplicate", "late":
						dropped++
					default:
						fail("ingest: record refused: %+v", e)
					}
				}
				mu.Unlock()
			}
		}()
	}
	paths := []string{
		"/api/v1/vehicles?limit=7", "/api/v1/vehicles/h0-1-a", "/api/v1/risks", "/api/v1/risks?vehicle=h1-2-b",
		"/api/v1/risks/history?limit=50", "/system/status", "/metrics", "/readyz",
		"/api/v1/vehicles?crs=frame&bbox=0,-10,50000,10",
	}
	for _, p := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if a := h.get(p); a.status != http.StatusOK && !(a.status == http.StatusNotFound && strings.Contains(p, "/vehicles/")) {
					fail("%s: %d %s", p, a.status, a.body)
					return
				}
			}
		}()
	}
	var streams sync.WaitGroup
	for _, q := range []string{"", "?vehicle=h2-3-a", "?crs=frame&bbox=0,-10,20000,10"} {
		s := h.stream(q)
		streams.Add(1)
		go func() {
			defer streams.Done()
			for {
				if _, ok := s.next(t, 2*time.Second); !ok {
					return // closed by the harness at stop
				}
			}
		}()
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	h.stop() // ends the streams
	streams.Wait()
	cancel()
	if err := <-runDone; err != nil {
		t.Fatal(err)
	}
	st := h.eng.Stats()
	// Every record is accounted for: applied, or dropped as stale or
	// duplicate either at submit (the client was told) or by the tick.
	if accepted == 0 || st.Accepted != uint64(accepted) || st.Pending != 0 ||
		st.Applied+st.Stale+st.Duplicates != st.Accepted+uint64(dropped) {
		t.Fatalf("clients saw %d accepted, %d dropped; engine %+v", accepted, dropped, st)
	}
	if st.Opened == 0 {
		t.Fatalf("no risk opened under the hammer: %+v", st)
	}
}
