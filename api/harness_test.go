package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/api"
	"github.com/collision-detection-platform/distributed-platform/builtin"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/geo"
	"github.com/collision-detection-platform/distributed-platform/store/memory"
)

// harness is one engine, one history store and one API server on a real
// loopback listener.
type harness struct {
	t      testing.TB
	eng    *engine.Engine
	hist   *memory.Store
	srv    *api.Server
	base   string
	client *http.Client
	done   chan error
}

var testFrame = geo.MustNew(geo.Config{Lat: 51.5, Lon: -0.12})

func newEngine(t testing.TB, mod func(*engine.Config)) *engine.Engine {
	t.Helper()
	return newEngineWith(t, mod, engine.Models{Predictor: builtin.Predictor{}, Scorer: builtin.Scorer{}})
}

func newEngineWith(t testing.TB, mod func(*engine.Config), m engine.Models) *engine.Engine {
	t.Helper()
	cfg := engine.Default()
	// The tests step the engine one tick per data second and expect a pair
	// that separates to resolve at once: no resolve_after hold.
	cfg.ResolveAfter = 0
	if mod != nil {
		mod(&cfg)
	}
	e, err := engine.New(cfg, m)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// newHarness starts a server; opt may change the options (the engine and the
// history are set already) and engMod the engine's configuration.
func newHarness(t testing.TB, opt func(*api.Options), engMod func(*engine.Config)) *harness {
	t.Helper()
	return newHarnessWith(t, opt, newEngine(t, engMod))
}

// newHarnessWith starts a server on the engine e.
func newHarnessWith(t testing.TB, opt func(*api.Options), e *engine.Engine) *harness {
	t.Helper()
	h := &harness{t: t, eng: e, done: make(chan error, 1)}
	var err error
	if h.hist, err = memory.New(memory.Config{Capacity: 1000}); err != nil {
		t.Fatal(err)
	}
	h.eng.AddSink(h.hist)
	o := api.Options{Engine: h.eng, Frame: testFrame, History: h.hist, Version: api.Version{Version: "v-test", Commit: "abc123"}}
	if opt != nil {
		opt(&o)
	}
	if h.srv, err = api.New(o); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { h.done <- h.srv.Serve(ln) }()
	h.base = "http://" + ln.Addr().String()
	for h.srv.Addr() == nil { // Serve has not stored ln yet
		time.Sleep(time.Millisecond)
	}
	if got := h.srv.Addr().String(); got != ln.Addr().String() {
		t.Fatalf("Addr %s, listening on %s", got, ln.Addr())
	}
	h.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
	t.Cleanup(h.stop)
	return h
}

func (h *harness) stop() {
	if h.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		h.t.Errorf("shutdown: %v", err)
	}
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		h.t.Errorf("Serve did not return after Shutdown")
	}
	h.client.Transport.(*http.Transport).CloseIdleConnections()
	h.srv = nil
}

// answer is a decoded response.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("answer is not JSON (%v): %s", err, a.body)
	}
}

// problem decodes an error answer and checks its shape.
func (a answer) problem(t testing.TB) (msg string, details []map[string]any) {
	t.Helper()
	var p struct {
		Error   string           `json:"error"`
		Details []map[string]any `json:"details"`
	}
	a.json(t, &p)
	if p.Error == "" {
		t.Fatalf("error answer without an error message: %s", a.body)
	}
	return p.Error, p.Details
}

func (h *harness) do(method, path, ctype string, body io.Reader, hdr ...string) answer {
	h.t.Helper()
	req, err := http.NewRequest(method, h.base+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

func (h *harness) get(path string) answer { return h.do("GET", path, "", nil) }

// statusConnReset is the status tooLarge reports when the connection was
// reset before an answer arrived.
const statusConnReset = -1

// tooLarge posts a body the server should refuse as too large and returns
// the status, or statusConnReset: a server that answers 413 and closes while
// the client is still writing the body may reset the connection before the
// client reads the answer (fasthttp closes after an over-limit body).
func (h *harness) tooLarge(path, ctype string, body io.Reader, hdr ...string) int {
	h.t.Helper()
	req, err := http.NewRequest("POST", h.base+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := h.client.Do(req)
	if err != nil {
		if msg := err.Error(); strings.Contains(msg, "reset") || strings.Contains(msg, "broken pipe") {
			return statusConnReset
		}
		h.t.Fatalf("POST %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (h *harness) post(path, body string) answer {
	return h.do("POST", path, "application/json", strings.NewReader(body))
}

// ingestResult is the 202 body.
type ingestResult struct {
	Accepted int `json:"accepted"`
	Rejected int `json:"rejected"`
	Errors   []struct {
		Index  int    `json:"index"`
		ID     string `json:"id"`
		Field  string `json:"field"`
		Reason string `json:"reason"`
		Offset int    `json:"offset"`
	} `json:"errors"`
}

func (h *harness) ingest(body string) ingestResult {
	h.t.Helper()
	a := h.post("/api/v1/locations", body)
	if a.status != http.StatusAccepted {
		h.t.Fatalf("ingest: status %d: %s", a.status, a.body)
	}
	var r ingestResult
	a.json(h.t, &r)
	return r
}

// rec is a Cartesian record at time t (Unix s).
func rec(id string, t, x, y, z, vx, vy float64) string {
	return fmt.Sprintf(`{"id":%q,"t":%.3f,"x":%g,"y":%g,"z":%g,"vx":%g,"vy":%g,"vz":0}`, id, t, x, y, z, vx, vy)
}

// geoRec is a WGS84 record.
func geoRec(id string, t, lat, lon, alt float64) string {
	return fmt.Sprintf(`{"id":%q,"t":%.3f,"lat":%g,"lon":%g,"alt":%g,"speed":10,"track":90}`, id, t, lat, lon, alt)
}

func nowUnix() float64 { return float64(time.Now().UnixNano()) / 1e9 }

// conflictPair is two vehicles 400 m apart closing head-on at 20 m/s.
func conflictPair(a, b string, t float64) string {
	return "[" + rec(a, t, 0, 0, 100, 10, 0) + "," + rec(b, t, 400, 0, 100, -10, 0) + "]"
}

// sse is a live-stream client.
type sse struct {
	resp *http.Response
	r    *bufio.Reader
}

type sseEvent struct {
	name, id, data string
}

func (h *harness) stream(query string) *sse {
	h.t.Helper()
	return h.streamWith(query)
}

// streamWith opens the stream with extra request headers (name, value...).
func (h *harness) streamWith(query string, hdr ...string) *sse {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.base+"/api/v1/risks/stream"+query, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	// No client timeout for a stream (http.Client.Timeout covers reading the
	// whole body): next() bounds each wait instead.
	resp, err := (&http.Client{Transport: h.client.Transport}).Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		h.t.Fatalf("stream: status %d: %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		h.t.Fatalf("stream Content-Type %q", ct)
	}
	s := &sse{resp: resp, r: bufio.NewReader(resp.Body)}
	h.t.Cleanup(func() { resp.Body.Close() })
	return s
}

// next reads the next event (skipping comments), failing after d.
func (s *sse) next(t testing.TB, d time.Duration) (sseEvent, bool) {
	t.Helper()
	type res struct {
		ev  sseEvent
		err error
	}
	ch := make(chan res, 1)
	go func() {
		var ev sseEvent
		for {
			line, err := s.r.ReadString('\n')
			if err != nil {
				ch <- res{err: err}
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "":
				if ev.name != "" || ev.data != "" {
					ch <- res{ev: ev}
					return
				}
			case strings.HasPrefix(line, ":"), strings.HasPrefix(line, "retry:"):
			case strings.HasPrefix(line, "event: "):
				ev.name = line[len("event: "):]
			case strings.HasPrefix(line, "id: "):
				ev.id = line[len("id: "):]
			case strings.HasPrefix(line, "data: "):
				ev.data += line[len("data: "):]
			}
		}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return sseEvent{}, false
		}
		return r.ev, true
	case <-time.After(d):
		s.resp.Body.Close() // unblocks the reader goroutine
		<-ch
		return sseEvent{}, false
	}
}

// vehicleT is the stored state time of a vehicle (0 when unknown).
func (h *harness) vehicleT(id string) float64 {
	h.t.Helper()
	var v struct {
		T float64 `json:"t"`
	}
	a := h.get("/api/v1/vehicles/" + id)
	if a.status != http.StatusOK {
		return 0
	}
	a.json(h.t, &v)
	return v.T
}
