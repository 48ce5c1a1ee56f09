package api

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/collision-detection-platform/distributed-platform/host/engine"
)

// nopEngine accepts everything and holds nothing: it isolates the API's own
// cost in the allocation guard and the handler benchmark.
type nopEngine struct{ accepted int }

func (e *nopEngine) TrySubmitChecked(ups []engine.Update, v []engine.Verdict) (int, error) {
	clear(v[:len(ups)])
	e.accepted += len(ups)
	return len(ups), nil
}
func (e *nopEngine) Pending() int                               { return 0 }
func (e *nopEngine) Config() engine.Config                      { return engine.Default() }
func (e *nopEngine) Vehicle(string) (engine.VehicleState, bool) { return engine.VehicleState{}, false }
func (e *nopEngine) Vehicles(func(engine.VehicleState) bool)    {}
func (e *nopEngine) Risks() []engine.Risk                       { return nil }
func (e *nopEngine) Risk(string) (engine.Risk, bool)            { return engine.Risk{}, false }
func (e *nopEngine) Stats() engine.Stats                        { return engine.Stats{} }
func (e *nopEngine) Models() engine.Models                      { return engine.Models{} }
func (e *nopEngine) AddSink(engine.Sink)                        {}

var _ Engine = (*nopEngine)(nil)

// batchBody is n WGS84 records as a JSON array, every tenth one refused.
func batchBody(n int, now time.Time) []byte {
	var b strings.Builder
	b.WriteByte('[')
	t := float64(now.Unix())
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		lat := 51.0 + float64(i%1000)*1e-3
		if i%10 == 9 {
			lat = 123 // lat_out_of_range
		}
		fmt.Fprintf(&b, `{"id":"veh-%06d","t":%.2f,"lat":%.6f,"lon":%.6f,"alt":%.1f,"vx":%.2f,"vy":%.2f,"vz":0.5}`,
			i, t, lat, -0.5+float64(i/1000)*1e-3, 100+float64(i%50), 12.5, -3.25)
	}
	b.WriteByte(']')
	return []byte(b.String())
}

func newTestServer(tb testing.TB, e Engine) *Server {
	tb.Helper()
	s, err := New(Options{Engine: e, Registerer: prometheus.NewRegistry()})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func serveIngest(h fasthttp.RequestHandler, ctx *fasthttp.RequestCtx, body []byte) {
	ctx.Request.Reset()
	ctx.Response.Reset()
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/api/v1/locations")
	ctx.Request.Header.SetContentType("application/json")
	ctx.Request.SetBody(body)
	h(ctx)
}

// The ingest handler allocates per request, never per record: a 1000-record
// batch costs no more allocations than a 10-record one.
func TestIngestAllocsDoNotGrowWithBatch(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	e := &nopEngine{}
	s := newTestServer(t, e)
	h := s.app.Handler()
	var ctx fasthttp.RequestCtx
	now := time.Now()
	allocs := func(n int) float64 {
		body := batchBody(n, now)
		serveIngest(h, &ctx, body) // warm the pool and the buffers
		if ctx.Response.StatusCode() != 202 {
			t.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
		return testing.AllocsPerRun(50, func() { serveIngest(h, &ctx, body) })
	}
	small, large := allocs(10), allocs(1000)
	t.Logf("allocations per request: %v (10 records), %v (1000 records)", small, large)
	if large > small+2 || large > 40 {
		t.Fatalf("allocations grow with the batch: %v for 10 records, %v for 1000", small, large)
	}
	if want := `{"accepted":900,"rejected":100,"errors":[{"index":9,"id":"veh-000009","field":"lat","reason":"lat_out_of_range","offset":`; !strings.HasPrefix(string(ctx.Response.Body()), want) {
		t.Fatalf("body %.200s", ctx.Response.Body())
	}
}

// Publish never blocks and keeps the last StreamBuffer events in the ring,
// numbered with consecutive positions; read returns what follows a position;
// a batch keeps its own copy of TIn.
func TestHubRing(t *testing.T) {
	s := newTestServer(t, &nopEngine{})
	s.hub.max = 25
	base := s.hub.position() + 1
	slow, _ := s.hub.subscribe("", 10)
	tin := 5.0
	evs := make([]engine.Event, 10)
	for i := range evs {
		evs[i] = engine.Event{ID: fmt.Sprint(i), VehicleA: "a", VehicleB: "c", TIn: &tin}
	}
	publish := func() {
		done := make(chan struct{})
		go func() { s.hub.Publish(evs); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			t.Fatal("Publish blocked")
		}
	}
	publish()
	if len(slow.wake) != 1 {
		t.Fatal("the subscriber was not woken")
	}
	tin = 99 // the engine's memory changes; the ring's copy does not
	bs, oldest, next := s.hub.read(base-1, nil, 64)
	if len(bs) != 1 || bs[0].first != base || oldest != base || next != base+10 {
		t.Fatalf("after one tick: %d batches, first %d, oldest %d, next %d (base %d)", len(bs), bs[0].first, oldest, next, base)
	}
	if se := bs[0].evs[0]; !se.hasTIn || se.tin != 5 || se.ev.TIn != nil {
		t.Fatalf("ring event %+v", se)
	}
	publish()
	publish() // 30 events published, 25 held: the first batch is gone
	bs, oldest, next = s.hub.read(base+12, nil, 64)
	if oldest != base+10 || next != base+30 || len(bs) != 2 || bs[0].first != base+10 {
		t.Fatalf("after three ticks: oldest %d, next %d, %d batches (base %d)", oldest-base, next-base, len(bs), base)
	}
	if bs, _, _ = s.hub.read(base+29, nil, 64); len(bs) != 0 {
		t.Fatalf("read at the live end: %d batches", len(bs))
	}
	// A tick larger than the ring keeps its last events.
	big := make([]engine.Event, 40)
	s.hub.Publish(big)
	bs, oldest, next = s.hub.read(base, nil, 64)
	if next != base+70 || oldest != base+45 || len(bs) != 1 || len(bs[0].evs) != 25 || s.hub.held != 25 {
		t.Fatalf("after a 40-event tick: oldest %d, next %d, %d batches, held %d", oldest-base, next-base, len(bs), s.hub.held)
	}
	s.hub.close()
	if _, p := s.hub.subscribe("", 10); p == nil {
		t.Fatal("subscribe after close succeeded")
	}
}

// Publishing allocates once per tick (its batch), not per subscriber or
// event.
func TestHubPublishAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	s := newTestServer(t, &nopEngine{})
	s.hub.max = 100
	for range 5 {
		s.hub.subscribe("", 10)
	}
	evs := make([]engine.Event, 50)
	for range 4 { // fill the ring: from now on each tick evicts one
		s.hub.Publish(evs)
	}
	n := testing.AllocsPerRun(20, func() { s.hub.Publish(evs) })
	if n != 1 {
		t.Fatalf("%v allocations per Publish to 5 subscribers, want 1", n)
	}
}

func TestTokenBucket(t *testing.T) {
	now := time.Unix(1000, 0)
	b := newTokenBucket(100, time.Second, 10, func() time.Time { return now })
	if ok, _ := b.take(100); !ok {
		t.Fatal("a full bucket refused its burst")
	}
	ok, wait := b.take(50)
	if ok || wait < 490*time.Millisecond || wait > 510*time.Millisecond {
		t.Fatalf("empty bucket: ok %v, wait %v; want refused, 0.5 s", ok, wait)
	}
	now = now.Add(500 * time.Millisecond)
	if ok, _ := b.take(50); !ok {
		t.Fatal("refilled bucket refused")
	}
	b.refund(30)
	if ok, _ := b.take(30); !ok {
		t.Fatal("refund lost")
	}
	// The burst never drops below the largest batch.
	b2 := newTokenBucket(5, time.Second, 1000, func() time.Time { return now })
	if ok, _ := b2.take(1000); !ok {
		t.Fatal("a max batch could never pass")
	}
	if ok, _ := newTokenBucket(0, time.Second, 1, time.Now).take(1 << 30); !ok {
		t.Fatal("a disabled bucket refused")
	}
	if got := retryAfterSeconds(1500 * time.Millisecond); got != 2 {
		t.Fatalf("retry after %d", got)
	}
}

// BenchmarkIngestHandler measures the handler alone (decode, validate,
// normalise, respond) on 1000-record WGS84 batches, without network and
// engine.
func BenchmarkIngestHandler(b *testing.B) {
	e := &nopEngine{}
	s := newTestServer(b, e)
	h := s.app.Handler()
	body := batchBody(1000, time.Now())
	var ctx fasthttp.RequestCtx
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		serveIngest(h, &ctx, body)
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "records/s")
}

// An engine without Export/Import answers 501 on both routes.
func TestStateTransferNotImplemented(t *testing.T) {
	s, err := New(Options{Engine: &nopEngine{}, AdminEnabled: true, AdminAllow: []string{"0.0.0.0/0", "::/0"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"GET /system/export-state", "POST /system/import-state"} {
		method, path, _ := strings.Cut(m, " ")
		req := httptest.NewRequest(method, path, strings.NewReader("{}"))
		resp, err := s.app.Test(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 501 {
			t.Fatalf("%s: %d, want 501", m, resp.StatusCode)
		}
	}
}

// While shutting down /readyz answers 503 so that load balancers stop
// sending; /healthz stays 200.
func TestReadyzDuringShutdown(t *testing.T) {
	s := newTestServer(t, &nopEngine{})
	if err := s.Shutdown(t.Context()); err != nil { // never served: marks stopping only
		t.Fatal(err)
	}
	for path, want := range map[string]int{"/readyz": 503, "/healthz": 200} {
		resp, err := s.app.Test(httptest.NewRequest("GET", path, nil))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s during shutdown: %d, want %d", path, resp.StatusCode, want)
		}
	}
	if s.Addr() != nil {
		t.Fatal("Addr before Serve is not nil")
	}
}

// A panicking handler answers 500 with the error body; the server lives on.
func TestPanicIsA500(t *testing.T) {
	s := newTestServer(t, &nopEngine{})
	s.app.Get("/boom", func(*fiber.Ctx) error { panic("boom") })
	resp, err := s.app.Test(httptest.NewRequest("GET", "/boom", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 500 || !strings.Contains(string(b), `"error":"internal error"`) {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}

// At debug level every request is logged once, with its status; at info
// level nothing is.
func TestAccessLog(t *testing.T) {
	var buf strings.Builder
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		buf.Reset()
		log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: level}))
		s, err := New(Options{Engine: &nopEngine{}, Logger: log, Registerer: prometheus.NewRegistry()})
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/healthz", "/api/v1/vehicles/x"} {
			resp, err := s.app.Test(httptest.NewRequest("GET", path, nil))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		got := buf.String()
		if level == slog.LevelDebug {
			if !strings.Contains(got, "path=/healthz status=200") || !strings.Contains(got, "path=/api/v1/vehicles/x status=404") {
				t.Fatalf("debug log:\n%s", got)
			}
		} else if got != "" {
			t.Fatalf("info log is not empty:\n%s", got)
		}
	}
}

// manyRisks is an engine that holds n open risks (and no vehicles).
type manyRisks struct {
	nopEngine
	risks []engine.Risk
}

func (e *manyRisks) Risks() []engine.Risk { return slices.Clone(e.risks) }

// BenchmarkRisksPage measures GET /api/v1/risks over 80,000 open risks (the
// size that gave 20 MB answers before paging): the default page sorted by
// risk, and the whole list walked in pages of api.max_limit.
func BenchmarkRisksPage(b *testing.B) {
	e := &manyRisks{}
	for i := range 80_000 {
		tin := 3.0
		e.risks = append(e.risks, engine.Risk{ID: fmt.Sprintf("r-%024x", i*7919), VehicleA: fmt.Sprintf("veh-%07d", i),
			VehicleB: fmt.Sprintf("veh-%07d", i+1), Risk: float64(i%1000) / 1000, Time: 1.7e9, TCA: 1.7e9 + 10, DMin: 12.5, TIn: &tin,
			OpenedAt: 1.7e9 - 5})
	}
	slices.SortFunc(e.risks, func(a, b engine.Risk) int { return strings.Compare(a.ID, b.ID) })
	s := newTestServer(b, e)
	h := s.app.Handler()
	var ctx fasthttp.RequestCtx
	get := func(uri string) []byte {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.Header.SetMethod("GET")
		ctx.Request.SetRequestURI(uri)
		h(&ctx)
		if ctx.Response.StatusCode() != 200 {
			b.Fatalf("%s: %d %s", uri, ctx.Response.StatusCode(), ctx.Response.Body())
		}
		return ctx.Response.Body()
	}
	b.Run("default page", func(b *testing.B) {
		size := 0
		for b.Loop() {
			size = len(get("/api/v1/risks"))
		}
		b.ReportMetric(float64(size), "bytes/answer")
	})
	b.Run("all in pages of 10000", func(b *testing.B) {
		pages, size := 0, 0
		for b.Loop() {
			cur := ""
			for pages = 1; ; pages++ {
				body := get("/api/v1/risks?limit=10000&cursor=" + cur)
				size = max(size, len(body))
				var p struct {
					Next string `json:"next_cursor"`
				}
				if err := json.Unmarshal(body, &p); err != nil {
					b.Fatal(err)
				}
				if cur = p.Next; cur == "" {
					break
				}
			}
		}
		b.ReportMetric(float64(pages), "pages")
		b.ReportMetric(float64(size), "max-bytes/answer")
	})
}
