package api_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/api"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
)

// A mixed batch: every valid record is accepted and, after a tick, queryable;
// every invalid one is listed with its index, field and reason, and is not in
// the engine.
func TestIngestMixedBatchLosesNothing(t *testing.T) {
	h := newHarness(t, nil, nil)
	now := nowUnix()
	records := []struct {
		body   string
		reason string // "" valid
		field  string
	}{
		{rec("ok-cart", now, 10, 20, 30, 1, 2), "", ""},
		{geoRec("ok-geo", now, 51.5, -0.1, 120), "", ""},
		{`{"id":"nan","t":` + ftoa(now) + `,"x":NaN,"y":0,"z":0,"vx":0,"vy":0}`, "non_finite", "x"},
		{`{"id":"wrongtype","t":` + ftoa(now) + `,"x":"12","y":0,"z":0,"vx":0,"vy":0}`, "wrong_type", "x"},
		{`{"t":` + ftoa(now) + `,"x":1,"y":0,"z":0,"vx":0,"vy":0}`, "missing_id", "id"},
		{`{"id":"no-t","x":1,"y":0,"z":0,"vx":0,"vy":0}`, "missing_t", "t"},
		{`{"id":"no-vel","t":` + ftoa(now) + `,"x":1,"y":0,"z":0}`, "velocity_missing", ""},
		{geoRec("badlat", now, 95, 0, 10), "lat_out_of_range", "lat"},
		{`{"id":"future","t":` + ftoa(now+3600) + `,"x":1,"y":0,"z":0,"vx":0,"vy":0}`, "time_in_future", "t"},
		{`42`, "not_object", ""},
		{`{"id":"badclass","t":` + ftoa(now) + `,"x":1,"y":0,"z":0,"vx":0,"vy":0,"class":"zeppelin"}`, "unknown_class", "class"},
		{`{"id":"ok-rfc3339","t":"` + time.Unix(int64(now), 0).UTC().Format(time.RFC3339) + `","x":5,"y":5,"z":5,"speed":3,"track":45}`, "", ""},
	}
	parts := make([]string, len(records))
	for i, r := range records {
		parts[i] = r.body
	}
	res := h.ingest("[" + strings.Join(parts, ",\n") + "]")

	wantRejected := 0
	for _, r := range records {
		if r.reason != "" {
			wantRejected++
		}
	}
	if res.Accepted != len(records)-wantRejected || res.Rejected != wantRejected || len(res.Errors) != wantRejected {
		t.Fatalf("accepted %d rejected %d (%d errors), want %d and %d: %+v",
			res.Accepted, res.Rejected, len(res.Errors), len(records)-wantRejected, wantRejected, res.Errors)
	}
	j := 0
	for i, r := range records {
		if r.reason == "" {
			continue
		}
		e := res.Errors[j]
		j++
		if e.Index != i || e.Reason != r.reason || e.Field != r.field {
			t.Errorf("record %d: got error {index %d field %q reason %q}, want {index %d field %q reason %q}",
				i, e.Index, e.Field, e.Reason, i, r.field, r.reason)
		}
	}
	if got := h.eng.Stats().Accepted; got != uint64(res.Accepted) {
		t.Fatalf("engine accepted %d, API said %d", got, res.Accepted)
	}
	h.eng.Tick()
	for _, id := range []string{"ok-cart", "ok-geo", "ok-rfc3339"} {
		if a := h.get("/api/v1/vehicles/" + id); a.status != http.StatusOK {
			t.Errorf("accepted vehicle %s: status %d: %s", id, a.status, a.body)
		}
	}
	for _, id := range []string{"nan", "wrongtype", "badlat", "future"} {
		if a := h.get("/api/v1/vehicles/" + id); a.status != http.StatusNotFound {
			t.Errorf("refused vehicle %s: status %d, want 404", id, a.status)
		}
	}
	// The WGS84 record comes back where it was sent.
	var v struct {
		Lat, Lon, Alt, Speed, Track float64
		Class                       string
	}
	h.get("/api/v1/vehicles/ok-geo").json(t, &v)
	if d := v.Lat - 51.5; d > 1e-6 || d < -1e-6 || v.Lon+0.1 > 1e-6 || v.Lon+0.1 < -1e-6 || v.Alt != 120 || v.Class != "default" {
		t.Errorf("ok-geo round trip: %+v", v)
	}
	if v.Speed < 9.999 || v.Speed > 10.001 || v.Track < 89.99 || v.Track > 90.01 {
		t.Errorf("ok-geo speed/track %v/%v, want 10/90", v.Speed, v.Track)
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', 3, 64) }

func TestIngestNDJSON(t *testing.T) {
	h := newHarness(t, nil, nil)
	now := nowUnix()
	body := rec("n1", now, 0, 0, 0, 1, 1) + "\n" + rec("n2", now, 50, 0, 0, 1, 1) + "\n" + `{"id":"n3"}` + "\n"
	a := h.do("POST", "/api/v1/locations", "application/x-ndjson", strings.NewReader(body))
	if a.status != http.StatusAccepted {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	var r ingestResult
	a.json(t, &r)
	if r.Accepted != 2 || r.Rejected != 1 || r.Errors[0].Index != 2 || r.Errors[0].ID != "n3" {
		t.Fatalf("%+v", r)
	}
	// CRLF line ends and a charset parameter.
	crlf := rec("n4", now, 0, 0, 0, 1, 1) + "\r\n" + rec("n5", now, 0, 0, 0, 1, 1) + "\r\n"
	for _, ct := range []string{"application/x-ndjson; charset=utf-8", "application/json;charset=UTF-8"} {
		a = h.do("POST", "/api/v1/locations", ct, strings.NewReader(crlf))
		if a.status != http.StatusAccepted {
			t.Fatalf("Content-Type %q: %d %s", ct, a.status, a.body)
		}
		r = ingestResult{}
		a.json(t, &r)
		if r.Accepted != 2 {
			t.Fatalf("Content-Type %q: %+v", ct, r)
		}
	}
}

// Malformed JSON refuses the whole batch with 400 saying where, and nothing
// of it reaches the engine.
func TestIngestMalformed(t *testing.T) {
	h := newHarness(t, nil, nil)
	now := nowUnix()
	cases := []struct {
		name, body string
		line, col  float64
	}{
		{"missing comma", "[" + rec("a", now, 0, 0, 0, 0, 0) + "\n" + rec("b", now, 0, 0, 0, 0, 0) + "]", 2, 1},
		{"truncated", "[" + rec("a", now, 0, 0, 0, 0, 0) + ",\n{\"id\":", 2, 7},
		{"garbage", "hello", 1, 1},
		{"unquoted key", "[{id:1}]", 1, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := h.post("/api/v1/locations", c.body)
			if a.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", a.status, a.body)
			}
			msg, det := a.problem(t)
			if !strings.Contains(msg, "malformed JSON at byte") || len(det) != 1 {
				t.Fatalf("message %q details %v", msg, det)
			}
			if det[0]["line"] != c.line || det[0]["column"] != c.col {
				t.Errorf("at line %v column %v, want %v:%v (%s)", det[0]["line"], det[0]["column"], c.line, c.col, msg)
			}
		})
	}
	if got := h.eng.Stats().Accepted; got != 0 {
		t.Fatalf("malformed batches put %d updates in the engine", got)
	}
}

func TestIngestLimits(t *testing.T) {
	h := newHarness(t, func(o *api.Options) { o.MaxBatch = 3; o.BodyLimit = 4096 }, nil)
	now := nowUnix()
	four := "[" + strings.Repeat(rec("x", now, 0, 0, 0, 0, 0)+",", 3) + rec("x", now, 0, 0, 0, 0, 0) + "]"
	a := h.post("/api/v1/locations", four)
	if a.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("4 records over max_batch 3: status %d: %s", a.status, a.body)
	}
	if msg, _ := a.problem(t); !strings.Contains(msg, "api.max_batch") {
		t.Errorf("message %q does not name the limit", msg)
	}
	big := `[{"id":"big","pad":"` + strings.Repeat("x", 5000) + `"}]`
	a = h.post("/api/v1/locations", big)
	if a.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("body over the limit: status %d: %s", a.status, a.body)
	}
	if msg, _ := a.problem(t); !strings.Contains(msg, "api.max_body_bytes") {
		t.Errorf("message %q does not name the limit", msg)
	}
	a = h.do("POST", "/api/v1/locations", "text/csv", strings.NewReader("id,t\n"))
	if a.status != http.StatusUnsupportedMediaType {
		t.Fatalf("text/csv: status %d", a.status)
	}
	a.problem(t)
	if got := h.eng.Stats().Accepted; got != 0 {
		t.Fatalf("refused batches put %d updates in the engine", got)
	}
	// The server still works after a 413 (fasthttp closes that connection).
	if r := h.ingest(rec("after", now, 0, 0, 0, 0, 0)); r.Accepted != 1 {
		t.Fatalf("%+v", r)
	}
}

// Above throttling_threshold x max_tps ingest answers 429 with Retry-After and
// accepts nothing of that batch; once the bucket refills it accepts again.
func TestIngestThrottle(t *testing.T) {
	clock := time.Now()
	h := newHarness(t, func(o *api.Options) {
		o.MaxTPS, o.ThrottlingThreshold, o.MaxBatch = 100, 0.5, 10 // 50 records/s, burst 50
		o.Now = func() time.Time { return clock }
	}, nil)
	now := float64(clock.UnixNano()) / 1e9
	batch := func(prefix string) string {
		parts := make([]string, 10)
		for i := range parts {
			parts[i] = rec(fmt.Sprintf("%s%d", prefix, i), now, float64(i)*1000, 0, 0, 0, 0)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	for i := range 5 {
		if r := h.ingest(batch(fmt.Sprint("b", i, "-"))); r.Accepted != 10 {
			t.Fatalf("batch %d: %+v", i, r)
		}
	}
	a := h.post("/api/v1/locations", batch("over-"))
	if a.status != http.StatusTooManyRequests {
		t.Fatalf("sixth batch within the second: status %d: %s", a.status, a.body)
	}
	if ra, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("Retry-After %q", a.header.Get("Retry-After"))
	}
	a.problem(t)
	if got := h.eng.Stats().Accepted; got != 50 {
		t.Fatalf("engine accepted %d, want 50 (nothing of the throttled batch)", got)
	}
	clock = clock.Add(time.Second)
	if r := h.ingest(batch("later-")); r.Accepted != 10 {
		t.Fatalf("after a second: %+v", r)
	}
}

// A full engine queue answers 429 and accepts nothing; after a tick drains it,
// ingest proceeds. What was accepted is all applied.
func TestIngestQueueFull(t *testing.T) {
	h := newHarness(t, nil, func(c *engine.Config) { c.MaxPending = 4 })
	now := nowUnix()
	if r := h.ingest("[" + rec("q1", now, 0, 0, 0, 0, 0) + "," + rec("q2", now, 1000, 0, 0, 0, 0) + "," + rec("q3", now, 2000, 0, 0, 0, 0) + "]"); r.Accepted != 3 {
		t.Fatal(r)
	}
	a := h.post("/api/v1/locations", "["+rec("q4", now, 3000, 0, 0, 0, 0)+","+rec("q5", now, 4000, 0, 0, 0, 0)+"]")
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
		t.Fatalf("queue full: status %d, Retry-After %q: %s", a.status, a.header.Get("Retry-After"), a.body)
	}
	h.eng.Tick()
	if r := h.ingest("[" + rec("q4", now, 3000, 0, 0, 0, 0) + "," + rec("q5", now, 4000, 0, 0, 0, 0) + "]"); r.Accepted != 2 {
		t.Fatal(r)
	}
	h.eng.Tick()
	if st := h.eng.Stats(); st.Vehicles != 5 || st.Accepted != 5 || st.Applied != 5 {
		t.Fatalf("stats %+v", st)
	}

	// A queue with no room refuses a batch before parsing it: even a
	// malformed body gets the 429, not the 400 a parse would give.
	if r := h.ingest("[" + rec("q6", now, 0, 0, 0, 0, 0) + "," + rec("q7", now, 1000, 0, 0, 0, 0) + "," +
		rec("q8", now, 2000, 0, 0, 0, 0) + "," + rec("q9", now, 3000, 0, 0, 0, 0) + "]"); r.Accepted != 4 {
		t.Fatal(r)
	}
	a = h.post("/api/v1/locations", `[{"id":"q10","t":`)
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
		t.Fatalf("full queue, malformed body: status %d, want 429 before parsing: %s", a.status, a.body)
	}
	if msg, _ := a.problem(t); !strings.Contains(msg, "queue full") {
		t.Fatalf("429 says %q", msg)
	}
	h.eng.Tick()
	if a = h.post("/api/v1/locations", `[{"id":"q10","t":`); a.status != http.StatusBadRequest {
		t.Fatalf("room again, malformed body: status %d, want 400: %s", a.status, a.body)
	}
}

// TestIngestListsStaleAndLate: a record older than (or as old as) the
// vehicle's stored state, or older than the engine clock minus vehicle_ttl,
// is not queued and the 202 lists it with its reason on field t.
func TestIngestListsStaleAndLate(t *testing.T) {
	h := newHarness(t, nil, func(c *engine.Config) { c.VehicleTTL = 30 })
	now := nowUnix()
	if r := h.ingest("[" + rec("s1", now, 0, 0, 0, 0, 0) + "," + rec("s2", now, 1000, 0, 0, 0, 0) + "]"); r.Accepted != 2 || r.Rejected != 0 {
		t.Fatal(r)
	}
	h.eng.Tick()
	r := h.ingest("[" + rec("s1", now-1, 0, 0, 0, 0, 0) + "," + // older than stored
		rec("s2", now, 1000, 0, 0, 0, 0) + "," + // same time as stored
		`{"id":"bad","t":1}` + "," + // invalid: listed by the decoder
		rec("s3", now-60, 2000, 0, 0, 0, 0) + "," + // before the clock minus 30 s
		rec("s1", now+0.5, 0, 0, 0, 0, 0) + "]") // newer: queued
	if r.Accepted != 1 || r.Rejected != 4 || len(r.Errors) != 4 {
		t.Fatalf("answer %+v, want 1 accepted and 4 listed", r)
	}
	want := []struct {
		index      int
		id, reason string
		field      string
	}{{0, "s1", "stale", "t"}, {1, "s2", "duplicate", "t"}, {2, "bad", "", ""}, {3, "s3", "late", "t"}}
	for i, w := range want {
		e := r.Errors[i]
		if e.Index != w.index || e.ID != w.id || (w.reason != "" && (e.Reason != w.reason || e.Field != w.field)) {
			t.Errorf("errors[%d] = %+v, want index %d id %s reason %q on %q", i, e, w.index, w.id, w.reason, w.field)
		}
	}
	h.eng.Tick()
	if v := h.vehicleT("s1"); math.Abs(v-(now+0.5)) > 1e-3 {
		t.Fatalf("s1 at t=%f, want the newer %f", v, now+0.5)
	}
	m := string(h.get("/metrics").body)
	for _, l := range []string{`cdp_ingest_records_rejected_total{reason="stale"} 1`, `cdp_ingest_records_rejected_total{reason="duplicate"} 1`,
		`cdp_ingest_records_rejected_total{reason="late"} 1`} {
		if !strings.Contains(m, l) {
			t.Errorf("metrics lack %s", l)
		}
	}
}

func gz(t *testing.T, s string) *bytes.Buffer {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return &b
}

// gzip bodies are accepted; the size limit applies to the inflated body, so
// a small bomb gets 413; a corrupt stream 400; other encodings 415.
func TestIngestGzip(t *testing.T) {
	h := newHarness(t, func(o *api.Options) { o.BodyLimit = 64 << 10 }, nil)
	now := nowUnix()
	a := h.do("POST", "/api/v1/locations", "application/json",
		gz(t, "["+rec("z1", now, 0, 0, 0, 1, 1)+","+rec("z2", now, 900, 0, 0, 1, 1)+"]"), "Content-Encoding", "gzip")
	if a.status != http.StatusAccepted {
		t.Fatalf("gzip: %d %s", a.status, a.body)
	}
	var r ingestResult
	a.json(t, &r)
	if r.Accepted != 2 {
		t.Fatalf("%+v", r)
	}
	bomb := gz(t, "["+strings.Repeat(" ", 1<<20)+"]") // 1 MiB of spaces, ~1 KB compressed
	a = h.do("POST", "/api/v1/locations", "application/json", bomb, "Content-Encoding", "gzip")
	if a.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("gzip bomb: %d %s", a.status, a.body)
	}
	a.problem(t)
	a = h.do("POST", "/api/v1/locations", "application/json", strings.NewReader("not gzip"), "Content-Encoding", "gzip")
	if a.status != http.StatusBadRequest {
		t.Fatalf("corrupt gzip: %d %s", a.status, a.body)
	}
	a.problem(t)
	a = h.do("POST", "/api/v1/locations", "application/json", strings.NewReader("[]"), "Content-Encoding", "br")
	if a.status != http.StatusUnsupportedMediaType {
		t.Fatalf("br: %d %s", a.status, a.body)
	}
	if got := h.eng.Stats().Accepted; got != 2 {
		t.Fatalf("engine accepted %d, want 2", got)
	}
}

// Once the engine has stopped, ingest answers 503 with Retry-After and
// accepts nothing (another node, or this one restarted, takes the retry).
func TestIngestEngineStopped(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.eng.Close()
	a := h.post("/api/v1/locations", "["+rec("late", nowUnix(), 0, 0, 0, 0, 0)+"]")
	if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q: %s", a.status, a.header.Get("Retry-After"), a.body)
	}
	if msg, _ := a.problem(t); !strings.Contains(msg, "engine stopped") {
		t.Fatalf("%q", msg)
	}
}

// TestIngestGroup: records that name one group open no risk between them,
// while a vehicle of no group next to them is a risk to each; a bad group is
// refused with its reason.
func TestIngestGroup(t *testing.T) {
	h := newHarness(t, nil, nil)
	defer h.stop()
	now := nowUnix()
	withGroup := func(r, g string) string { return r[:len(r)-1] + `,"group":"` + g + `"}` }
	body := "[" + withGroup(rec("s1", now, 0, 0, 100, 0, 0), "show") + "," + withGroup(rec("s2", now, 3, 0, 100, 0, 0), "show") + "," +
		withGroup(rec("s3", now, 6, 0, 100, 0, 0), "show") + "," + rec("intruder", now, 3, 3, 100, 0, 0) + "," +
		withGroup(rec("bad", now, 9, 0, 100, 0, 0), "") + "]"
	res := h.ingest(body)
	if len(res.Errors) != 1 || res.Errors[0].Reason != "invalid_group" {
		t.Fatalf("errors %+v: want the empty group refused as invalid_group", res.Errors)
	}
	h.eng.Tick()
	rs := h.eng.Risks()
	if len(rs) != 3 {
		t.Fatalf("%d risks open, want the intruder's 3 (none inside the show): %+v", len(rs), rs)
	}
	for _, r := range rs {
		if r.VehicleA != "intruder" && r.VehicleB != "intruder" {
			t.Fatalf("a risk inside the group: %+v", r)
		}
	}
}
