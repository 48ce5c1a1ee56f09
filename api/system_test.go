package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/collision-detection-platform/distributed-platform/api"
)

func TestSystemEndpoints(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.ingest(conflictPair("a", "b", nowUnix()-1))
	h.eng.Tick()

	var st struct {
		Uptime    float64 `json:"uptime_s"`
		Vehicles  int     `json:"vehicles"`
		OpenRisks int     `json:"open_risks"`
		Rates     struct {
			Ingest float64 `json:"ingest_per_s"`
		} `json:"rates"`
		Totals struct{ Accepted, Opened int }
		Grid   struct {
			CellSize float64 `json:"cell_size_m"`
		}
		Models struct {
			Predictor, Scorer struct{ Name string }
		}
	}
	a := h.get("/system/status")
	if a.status != http.StatusOK {
		t.Fatalf("status: %d %s", a.status, a.body)
	}
	a.json(t, &st)
	if st.Vehicles != 2 || st.OpenRisks != 1 || st.Totals.Accepted != 2 || st.Totals.Opened != 1 ||
		st.Grid.CellSize <= 0 || st.Models.Predictor.Name == "" || st.Models.Scorer.Name == "" || st.Uptime < 0 {
		t.Fatalf("status: %s", a.body)
	}
	if st.Rates.Ingest <= 0 {
		t.Fatalf("ingest rate %v after 2 accepted updates: %s", st.Rates.Ingest, a.body)
	}

	var v struct{ Version, Commit, Go, ABI string }
	h.get("/system/version").json(t, &v)
	if v.Version != "v-test" || v.Commit != "abc123" || v.Go != runtime.Version() || v.ABI != "1.0" {
		t.Fatalf("version %+v", v)
	}
	if a := h.get("/healthz"); a.status != http.StatusOK {
		t.Fatalf("healthz %d", a.status)
	}
	if a := h.get("/readyz"); a.status != http.StatusOK {
		t.Fatalf("readyz %d", a.status)
	}

	m := string(h.get("/metrics").body)
	for _, want := range []string{
		"cdp_ingest_records_accepted_total 2",
		`cdp_ingest_records_rejected_total{reason="lat_out_of_range"} 0`,
		"cdp_engine_vehicles 2",
		"cdp_engine_open_risks 1",
		"cdp_engine_queue_depth 0",
		`cdp_engine_risk_events_total{event="opened"} 1`,
		"cdp_engine_pairs_scored_total",
		"cdp_engine_last_tick_seconds",
		`cdp_engine_tick_phase_seconds_total{phase="score"}`,
		"cdp_ingest_request_duration_seconds_bucket",
		"cdp_ingest_batch_records_count 1",
		"cdp_grid_cell_size_meters",
		"cdp_stream_clients 0",
		"go_goroutines",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	for _, p := range []string{"/nope/1", "/nope/2", "/api/v1/vehicles/ghost"} {
		h.get(p)
	}
	m = string(h.get("/metrics").body)
	for _, want := range []string{
		`cdp_http_requests_total{code="202",method="POST",route="/api/v1/locations"} 1`,
		`cdp_http_requests_total{code="404",method="GET",route="unmatched"} 2`,
		`cdp_http_requests_total{code="404",method="GET",route="/api/v1/vehicles/:id"} 1`,
		`cdp_http_request_duration_seconds_count{route="/system/status"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(m, "/nope/") {
		t.Error("raw paths became label values")
	}
	h.ingest(`[{"id":"x","t":1,"x":0}]`)
	if m := string(h.get("/metrics").body); !strings.Contains(m, `cdp_ingest_records_rejected_total{reason="time_too_old"} 1`) {
		t.Errorf("/metrics does not count the refused record by reason")
	}
}

func TestReadyzHook(t *testing.T) {
	var bad atomic.Bool
	h := newHarness(t, func(o *api.Options) {
		o.Ready = func() error {
			if bad.Load() {
				return fmt.Errorf("store unreachable")
			}
			return nil
		}
	}, nil)
	bad.Store(true)
	a := h.get("/readyz")
	if a.status != http.StatusServiceUnavailable {
		t.Fatalf("readyz %d", a.status)
	}
	if msg, _ := a.problem(t); !strings.Contains(msg, "store unreachable") {
		t.Fatalf("readyz says %q", msg)
	}
}

// With admin off or from a disallowed network, 403 (the 501 of an engine
// without Export/Import is tested with a no-op engine in internal_test.go).
func TestStateTransferGuards(t *testing.T) {
	h := newHarness(t, nil, nil)
	for _, c := range []struct{ method, path string }{{"GET", "/system/export-state"}, {"POST", "/system/import-state"}} {
		a := h.do(c.method, c.path, "application/json", strings.NewReader("{}"))
		if a.status != http.StatusForbidden {
			t.Fatalf("%s with admin disabled: %d", c.path, a.status)
		}
		if msg, _ := a.problem(t); !strings.Contains(msg, "api.admin.enabled") {
			t.Fatalf("%q", msg)
		}
	}
	h2 := newHarness(t, func(o *api.Options) { o.AdminEnabled = true; o.AdminAllow = []string{"10.0.0.0/8"} }, nil)
	if a := h2.get("/system/export-state"); a.status != http.StatusForbidden {
		t.Fatalf("from a disallowed network: %d", a.status)
	}
	if _, err := api.New(api.Options{Engine: h.eng, AdminAllow: []string{"not-a-cidr"}, Registerer: prometheus.NewRegistry()}); err == nil || !strings.Contains(err.Error(), "api.admin.allow") {
		t.Fatalf("bad CIDR: %v", err)
	}
	if _, err := api.New(api.Options{}); err != api.ErrNoEngine {
		t.Fatalf("no engine: %v", err)
	}
}

func TestCORS(t *testing.T) {
	h := newHarness(t, func(o *api.Options) { o.CORSOrigins = []string{"https://ops.example.com"} }, nil)
	a := h.do("GET", "/api/v1/risks", "", nil, "Origin", "https://ops.example.com")
	if got := a.header.Get("Access-Control-Allow-Origin"); got != "https://ops.example.com" {
		t.Fatalf("allowed origin: %q", got)
	}
	a = h.do("GET", "/api/v1/risks", "", nil, "Origin", "https://evil.example.com")
	if got := a.header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Fatalf("other origin got %q", got)
	}
	a = h.do("OPTIONS", "/api/v1/locations", "", nil, "Origin", "https://ops.example.com", "Access-Control-Request-Method", "POST")
	if a.status != http.StatusNoContent || !strings.Contains(a.header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("preflight: %d %v", a.status, a.header)
	}
	a = h.do("GET", "/api/v1/risks", "", nil, "Origin", "https://ops.example.com")
	if got := a.header.Get("Access-Control-Expose-Headers"); !strings.Contains(got, "Retry-After") {
		t.Fatalf("Retry-After not exposed to scripts: %q", got)
	}
	// Without configured origins there are no CORS headers.
	h2 := newHarness(t, nil, nil)
	a = h2.do("GET", "/api/v1/risks", "", nil, "Origin", "https://ops.example.com")
	if got := a.header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Fatalf("no origins configured, got %q", got)
	}
}

// Every registered route is in the OpenAPI document, and every documented
// path is served.
func TestOpenAPICoversRoutes(t *testing.T) {
	h := newHarness(t, nil, nil)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	a := h.get("/openapi.json")
	if a.status != http.StatusOK {
		t.Fatalf("%d", a.status)
	}
	a.json(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	seen := map[string]bool{}
	for _, r := range h.srv.App().GetRoutes(true) {
		if r.Method == "HEAD" || r.Method == "OPTIONS" {
			continue
		}
		segs := strings.Split(r.Path, "/")
		for i, s := range segs {
			if strings.HasPrefix(s, ":") {
				segs[i] = "{" + s[1:] + "}"
			}
		}
		p := strings.Join(segs, "/")
		key := strings.ToLower(r.Method) + " " + p
		seen[key] = true
		if _, ok := doc.Paths[p][strings.ToLower(r.Method)]; !ok {
			t.Errorf("route %s is not in openapi.json", key)
		}
	}
	var documented []string
	for p, ops := range doc.Paths {
		for m := range ops {
			documented = append(documented, m+" "+p)
		}
	}
	sort.Strings(documented)
	for _, d := range documented {
		if !seen[d] {
			t.Errorf("openapi.json documents %s, which is not served", d)
		}
	}
	if len(seen) < 15 {
		t.Fatalf("only %d routes registered", len(seen))
	}
}

// Shutdown while clients ingest: every record a 202 reported is in the engine
// and, after the engine's last tick, in the state table; /readyz turned 503.
func TestShutdownDrainsAcceptedWork(t *testing.T) {
	h := newHarness(t, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- h.eng.Run(ctx) }()

	var accepted atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
			defer client.Transport.(*http.Transport).CloseIdleConnections()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var parts []string
				for j := range 50 {
					parts = append(parts, rec(fmt.Sprintf("w%d-%d-%d", w, i, j), nowUnix(), float64(j)*500, float64(w*100000+i*1000), 100, 1, 0))
				}
				resp, err := client.Post(h.base+"/api/v1/locations", "application/json", strings.NewReader("["+strings.Join(parts, ",")+"]"))
				if err != nil {
					return // the server has gone away
				}
				var r struct{ Accepted int }
				if resp.StatusCode == http.StatusAccepted {
					_ = json.NewDecoder(resp.Body).Decode(&r)
					accepted.Add(int64(r.Accepted))
				}
				resp.Body.Close()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	h.stop()
	close(stop)
	wg.Wait()
	cancel()
	if err := <-runDone; err != nil {
		t.Fatal(err)
	}
	st := h.eng.Stats()
	if accepted.Load() == 0 || st.Accepted != uint64(accepted.Load()) || st.Applied != st.Accepted || st.Pending != 0 {
		t.Fatalf("clients saw %d accepted; engine accepted %d, applied %d, pending %d",
			accepted.Load(), st.Accepted, st.Applied, st.Pending)
	}
	if st.Vehicles != int(st.Applied) {
		t.Fatalf("%d vehicles for %d applied updates", st.Vehicles, st.Applied)
	}
}

// Servers start, serve (a stream included) and stop without leaking
// goroutines.
func TestNoGoroutineLeak(t *testing.T) {
	base := runtime.NumGoroutine()
	for range 3 {
		h := newHarness(t, func(o *api.Options) { o.StreamHeartbeat = 50 * time.Millisecond }, nil)
		s := h.stream("")
		h.ingest(conflictPair("a", "b", nowUnix()-1))
		h.eng.Tick()
		if ev, ok := s.next(t, 5*time.Second); !ok || ev.name != "opened" {
			t.Fatalf("stream: %+v %v", ev, ok)
		}
		_ = h.get("/system/status")
		h.stop()
		s.resp.Body.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after stop, %d before:\n%s", n, base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Listen on a busy address fails; Shutdown before Serve makes Serve return.
func TestListenAndEarlyShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	e := newEngine(t, nil)
	s, err := api.New(api.Options{Engine: e})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(ln.Addr().String()); err == nil {
		t.Fatal("Listen on a busy address succeeded")
	}
	s2, _ := api.New(api.Options{Engine: e})
	if err := s2.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	done := make(chan error, 1)
	go func() { done <- s2.Serve(ln2) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Serve after Shutdown did not return")
	}
}

// Export from one node and import into another restores the same vehicles
// and open risks (same ids).
func TestExportImportRoundTrip(t *testing.T) {
	admin := func(o *api.Options) { o.AdminEnabled = true }
	src := newHarness(t, admin, nil)
	t0 := nowUnix() - 2
	src.ingest(conflictPair("a", "b", t0))
	src.ingest("[" + rec("lonely", t0, 50000, 0, 100, 0, 0) + "]")
	src.eng.Tick()
	snap := src.get("/system/export-state")
	if snap.status != http.StatusOK || !strings.HasPrefix(snap.header.Get("Content-Type"), "application/json") {
		t.Fatalf("export: %d %q %.200s", snap.status, snap.header.Get("Content-Type"), snap.body)
	}

	// The snapshot is far above the destination's body limit: import has its
	// own (ImportLimit), ingest keeps BodyLimit.
	dst := newHarness(t, func(o *api.Options) { o.AdminEnabled = true; o.BodyLimit = 512 }, nil)
	if len(snap.body) <= 512 {
		t.Fatalf("snapshot of %d bytes does not exercise the import limit", len(snap.body))
	}
	big := "[" + rec("pad", nowUnix(), 0, 0, 0, 0, 0) + strings.Repeat(" ", 600) + "]"
	if a := dst.post("/api/v1/locations", big); a.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("ingest above BodyLimit beside a large ImportLimit: %d", a.status)
	}
	a := dst.do("POST", "/system/import-state", "application/json", bytes.NewReader(snap.body))
	if a.status != http.StatusOK {
		t.Fatalf("import: %d %s", a.status, a.body)
	}
	var res struct {
		Imported  bool
		Vehicles  int
		OpenRisks int `json:"open_risks"`
	}
	a.json(t, &res)
	if !res.Imported || res.Vehicles != 3 || res.OpenRisks != 1 {
		t.Fatalf("import answer %s", a.body)
	}
	if got, want := string(dst.get("/api/v1/risks").body), string(src.get("/api/v1/risks").body); got != want {
		t.Fatalf("risks after import:\n%s\nwant\n%s", got, want)
	}
	for _, id := range []string{"a", "b", "lonely"} {
		if got, want := string(dst.get("/api/v1/vehicles/"+id).body), string(src.get("/api/v1/vehicles/"+id).body); got != want {
			t.Fatalf("vehicle %s after import:\n%s\nwant\n%s", id, got, want)
		}
	}
	a = dst.post("/system/import-state", `{"version":99}`)
	if a.status != http.StatusBadRequest {
		t.Fatalf("bad snapshot: %d %s", a.status, a.body)
	}
	if msg, _ := a.problem(t); !strings.Contains(msg, "version") {
		t.Fatalf("bad snapshot message %q", msg)
	}
}

// A connection opened but never used does not hold a graceful shutdown up
// until the read timeout.
func TestShutdownClosesUnusedConnections(t *testing.T) {
	h := newHarness(t, func(o *api.Options) { o.ReadTimeout = time.Minute }, nil)
	spare, err := net.Dial("tcp", strings.TrimPrefix(h.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer spare.Close()
	if a := h.get("/healthz"); a.status != http.StatusOK { // a used one beside it
		t.Fatal(a.status)
	}
	time.Sleep(150 * time.Millisecond)
	start := time.Now()
	h.stop()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("shutdown took %v with an unused connection open", d)
	}
	if _, err := spare.Read(make([]byte, 1)); err == nil {
		t.Fatal("the unused connection is still open")
	}
}
