package api_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/api"
)

// Open the stream, ingest a conflicting pair, tick: the stream carries the
// "opened" event; filtered streams carry it only when it matches.
func TestStreamOpenedEvent(t *testing.T) {
	h := newHarness(t, nil, nil)
	all := h.stream("")
	mine := h.stream("?vehicle=b")
	other := h.stream("?vehicle=nobody")
	inBox := h.stream("?crs=frame&bbox=-50,-50,50,50")    // holds a
	outBox := h.stream("?crs=frame&bbox=5000,0,6000,100") // holds neither

	t0 := nowUnix() - 5
	h.ingest(conflictPair("a", "b", t0))
	h.eng.Tick()

	for name, s := range map[string]*sse{"all": all, "vehicle=b": mine, "bbox around a": inBox} {
		ev, ok := s.next(t, 5*time.Second)
		if !ok || ev.name != "opened" {
			t.Fatalf("%s: got %+v, %v; want an opened event", name, ev, ok)
		}
		var e struct {
			ID, Type, RiskID string
			VehicleA         string   `json:"vehicle_a"`
			TIn              *float64 `json:"t_in"`
		}
		if err := json.Unmarshal([]byte(ev.data), &e); err != nil {
			t.Fatalf("%s: data is not JSON: %q", name, ev.data)
		}
		if _, err := strconv.ParseUint(ev.id, 10, 64); err != nil {
			t.Fatalf("%s: SSE id %q is not a stream position", name, ev.id)
		}
		if e.Type != "opened" || e.VehicleA != "a" || !strings.HasPrefix(e.ID, "r-") || e.TIn == nil || *e.TIn <= t0 {
			t.Fatalf("%s: event %+v (SSE id %q)", name, e, ev.id)
		}
	}
	// The others saw nothing: resolve the risk and expect "resolved" to be the
	// first thing the filtered-out streams never get either; a short wait is
	// enough since the positive streams already received theirs.
	for name, s := range map[string]*sse{"vehicle=nobody": other, "bbox elsewhere": outBox} {
		if ev, ok := s.next(t, 300*time.Millisecond); ok {
			t.Fatalf("%s: got %+v, want nothing", name, ev)
		}
	}
	// Once on a bbox stream, a risk stays on it until it resolves, even when
	// its vehicles leave the box.
	h.ingest("[" + rec("a", t0+1, -3000, 0, 100, -10, 0) + "," + rec("b", t0+1, 3000, 0, 100, 10, 0) + "]")
	h.eng.Tick()
	if ev, ok := inBox.next(t, 5*time.Second); !ok || ev.name != "resolved" {
		t.Fatalf("bbox stream: got %+v, %v; want resolved", ev, ok)
	}
}

// A client that does not read does not block the engine; a busy tick reaches
// it whole when the buffer holds it, and when it does not the client is told
// exactly which stream positions it lost, then gets the rest in order.
func TestStreamSlowClientDoesNotBlockEngine(t *testing.T) {
	for _, c := range []struct {
		buffer, lost int
	}{{100, 0}, {15, 25}} {
		t.Run(fmt.Sprint("buffer ", c.buffer), func(t *testing.T) {
			h := newHarness(t, func(o *api.Options) { o.StreamBuffer = c.buffer }, nil)
			s := h.stream("")
			t0 := nowUnix() - 100
			// Many separate conflicting pairs in one tick: 40 events. The
			// client is not reading while the engine publishes.
			var parts []string
			for i := range 40 {
				x := float64(i) * 10000
				parts = append(parts, rec(fmt.Sprintf("p%d-1", i), t0, x, 0, 100, 10, 0), rec(fmt.Sprintf("p%d-2", i), t0, x+400, 0, 100, -10, 0))
			}
			h.ingest("[" + strings.Join(parts, ",") + "]")
			done := make(chan struct{})
			go func() { h.eng.Tick(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("tick blocked on a slow stream client")
			}
			if st := h.eng.Stats(); st.Opened != 40 {
				t.Fatalf("opened %d, want 40", st.Opened)
			}
			var prev uint64
			if c.lost > 0 {
				ev, ok := s.next(t, 2*time.Second)
				var d struct{ Dropped, Lost, From, To uint64 }
				if !ok || ev.name != "dropped" || json.Unmarshal([]byte(ev.data), &d) != nil ||
					d.Dropped != uint64(c.lost) || d.Lost != uint64(c.lost) || d.To-d.From+1 != uint64(c.lost) {
					t.Fatalf("first event %+v, %v; want dropped with %d lost", ev, ok, c.lost)
				}
				prev = d.To
			}
			for i := c.lost; i < 40; i++ {
				ev, ok := s.next(t, 2*time.Second)
				if !ok || ev.name != "opened" {
					t.Fatalf("event %d: %+v, %v", i, ev, ok)
				}
				at, _ := strconv.ParseUint(ev.id, 10, 64)
				if prev != 0 && at != prev+1 {
					t.Fatalf("event %d at position %d after %d", i, at, prev)
				}
				prev = at
			}
			var st struct {
				Dropped uint64 `json:"stream_events_dropped"`
			}
			h.get("/system/status").json(t, &st)
			if st.Dropped != uint64(c.lost) {
				t.Fatalf("status: %d stream events dropped, want %d", st.Dropped, c.lost)
			}
			if m := string(h.get("/metrics").body); !strings.Contains(m, fmt.Sprintf("cdp_stream_events_dropped_total %d\n", c.lost)) {
				t.Fatalf("metrics lack cdp_stream_events_dropped_total %d", c.lost)
			}
		})
	}
}

// A client that reconnects with Last-Event-ID (or last_event_id) gets every
// event after it, in order, from the buffer, and no snapshot; a position the
// buffer no longer holds is reported as dropped, followed by a snapshot.
func TestStreamResume(t *testing.T) {
	h := newHarness(t, func(o *api.Options) { o.StreamBuffer = 6 }, nil)
	s := h.stream("")
	t0 := nowUnix() - 100
	open := func(i int) {
		x := float64(i) * 10000
		h.ingest("[" + rec(fmt.Sprintf("p%d-1", i), t0, x, 0, 100, 10, 0) + "," + rec(fmt.Sprintf("p%d-2", i), t0, x+400, 0, 100, -10, 0) + "]")
		h.eng.Tick()
	}
	open(0)
	first, ok := s.next(t, 5*time.Second)
	if !ok || first.name != "opened" {
		t.Fatalf("first event %+v %v", first, ok)
	}
	s.resp.Body.Close() // the client goes away
	for i := 1; i <= 4; i++ {
		open(i)
	}
	pos, _ := strconv.ParseUint(first.id, 10, 64)
	for _, how := range []string{"header", "query"} {
		var re *sse
		if how == "header" {
			re = h.streamWith("", "Last-Event-ID", first.id)
		} else {
			re = h.streamWith("?last_event_id=" + first.id)
		}
		for i := 1; i <= 4; i++ {
			ev, ok := re.next(t, 5*time.Second)
			var e struct {
				VehicleA string `json:"vehicle_a"`
			}
			if !ok || ev.name != "opened" || json.Unmarshal([]byte(ev.data), &e) != nil || e.VehicleA != fmt.Sprintf("p%d-1", i) ||
				ev.id != strconv.FormatUint(pos+uint64(i), 10) {
				t.Fatalf("%s: resumed event %d: %+v %v, want p%d at position %d", how, i, ev, ok, i, pos+uint64(i))
			}
		}
		re.resp.Body.Close()
	}
	// Three more ticks push position pos+1 out of the 6-event buffer (it
	// holds pos+2 .. pos+7).
	open(5)
	open(6)
	open(7)
	re := h.streamWith("", "Last-Event-ID", first.id)
	ev, ok := re.next(t, 5*time.Second)
	var d struct{ Dropped, Lost, From, To uint64 }
	if !ok || ev.name != "dropped" || json.Unmarshal([]byte(ev.data), &d) != nil || d.From != pos+1 || d.To != pos+1 || d.Lost != 1 || d.Dropped != 1 {
		t.Fatalf("resume after the buffer moved: %+v %v, want dropped %d..%d", ev, ok, pos+1, pos+1)
	}
	if ev, ok = re.next(t, 5*time.Second); !ok || ev.name != "snapshot" {
		t.Fatalf("after the gap: %+v %v, want a snapshot", ev, ok)
	}
	for i := 2; i <= 7; i++ { // the held events follow
		if ev, ok = re.next(t, 5*time.Second); !ok || ev.name != "opened" || ev.id != strconv.FormatUint(pos+uint64(i), 10) {
			t.Fatalf("held event %d: %+v %v", i, ev, ok)
		}
	}
	if a := h.get("/api/v1/risks/stream?last_event_id=r-1.2"); a.status != http.StatusBadRequest {
		t.Fatalf("last_event_id=r-1.2: %d, want 400", a.status)
	}
}

// The stream outlives the server's write timeout: each write gets its own
// deadline.
func TestStreamOutlivesWriteTimeout(t *testing.T) {
	h := newHarness(t, func(o *api.Options) {
		o.WriteTimeout = 200 * time.Millisecond
		o.StreamHeartbeat = 50 * time.Millisecond
	}, nil)
	s := h.stream("")
	time.Sleep(700 * time.Millisecond)
	h.ingest(conflictPair("a", "b", nowUnix()-1))
	h.eng.Tick()
	if ev, ok := s.next(t, 5*time.Second); !ok || ev.name != "opened" {
		t.Fatalf("after 3.5 write timeouts: %+v, %v", ev, ok)
	}
}

// HEAD of the stream answers its headers and holds no subscription.
func TestStreamHead(t *testing.T) {
	h := newHarness(t, nil, nil)
	a := h.do("HEAD", "/api/v1/risks/stream", "", nil)
	if a.status != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("HEAD: %d %v", a.status, a.header)
	}
	var st struct {
		Streams int `json:"stream_clients"`
	}
	h.get("/system/status").json(t, &st)
	if st.Streams != 0 {
		t.Fatalf("%d stream clients after a HEAD", st.Streams)
	}
	// The limit on concurrent streams answers 503 naming it.
	h2 := newHarness(t, func(o *api.Options) { o.MaxStreams = 1 }, nil)
	h2.stream("")
	a = h2.get("/api/v1/risks/stream")
	if a.status != 503 {
		t.Fatalf("second stream over MaxStreams 1: %d", a.status)
	}
	if msg, _ := a.problem(t); !strings.Contains(msg, "too many live-stream clients") {
		t.Fatalf("%q", msg)
	}
}

// snapshot=true starts the stream with the open risks that pass its filters.
func TestStreamSnapshot(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.ingest(conflictPair("a", "b", nowUnix()-1))
	h.eng.Tick()
	for q, want := range map[string]int{"?snapshot=true": 1, "?snapshot=1&vehicle=a": 1, "?snapshot=true&vehicle=zz": 0,
		"?snapshot=true&crs=frame&bbox=5000,5000,6000,6000": 0} {
		s := h.stream(q)
		ev, ok := s.next(t, 5*time.Second)
		if !ok || ev.name != "snapshot" {
			t.Fatalf("%s: first event %+v, %v", q, ev, ok)
		}
		var snap struct {
			Risks []struct {
				ID       string `json:"id"`
				VehicleA string `json:"vehicle_a"`
			} `json:"risks"`
		}
		if err := json.Unmarshal([]byte(ev.data), &snap); err != nil || len(snap.Risks) != want {
			t.Fatalf("%s: snapshot %q (%v), want %d risks", q, ev.data, err, want)
		}
		if want == 1 && (snap.Risks[0].VehicleA != "a" || !strings.HasPrefix(snap.Risks[0].ID, "r-")) {
			t.Fatalf("%s: %+v", q, snap)
		}
	}
	// A reconnecting EventSource gets the snapshot without asking.
	req, _ := http.NewRequest("GET", h.base+"/api/v1/risks/stream", nil)
	req.Header.Set("Last-Event-ID", "r-0123.4")
	resp, err := (&http.Client{Transport: h.client.Transport}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	re := &sse{resp: resp, r: bufio.NewReader(resp.Body)}
	if ev, ok := re.next(t, 5*time.Second); !ok || ev.name != "snapshot" {
		t.Fatalf("reconnect: %+v %v", ev, ok)
	}
	resp.Body.Close()
	if a := h.get("/api/v1/risks/stream?snapshot=maybe"); a.status != 400 {
		t.Fatalf("snapshot=maybe: %d", a.status)
	}
}
