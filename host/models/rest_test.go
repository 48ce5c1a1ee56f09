package models_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/api"
	"github.com/collision-detection-platform/distributed-platform/builtin"
	"github.com/collision-detection-platform/distributed-platform/host/cli"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/geo"
	"github.com/collision-detection-platform/distributed-platform/host/models"
	"github.com/collision-detection-platform/distributed-platform/plugins"
)

const lat0, lon0 = 51.5, -0.12

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// lockedEngine makes SetModels wait for the tick in progress, so that the
// test knows exactly which models each tick ran on (the engine itself swaps
// atomically between ticks; the lock only lets the test observe it).
type lockedEngine struct {
	*engine.Engine
	mu *sync.Mutex
}

func (l lockedEngine) SetModels(m engine.Models) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.Engine.SetModels(m)
}

// traffic renders round r of pairs vehicle pairs as NDJSON: even pairs fly
// side by side 30 m apart (a risk open for the whole test), odd pairs meet
// head-on every 1.2 s of data time (risks that open and resolve).
func traffic(pairs, r int, t0 float64) []byte {
	t := t0 + 0.1*float64(r)
	s := 0.1 * float64(r)
	h := 0.1 * float64(r%12) // head-on pairs: 200 m apart, meeting at 100 m/s each, every 1.2 s
	mLat := 111_320.0
	mLon := 111_320.0 * math.Cos(lat0*math.Pi/180)
	var b []byte
	rec := func(id string, x, y, vx float64) {
		b = fmt.Appendf(b, `{"id":"%s","t":%.3f,"lat":%.8f,"lon":%.8f,"alt":100,"vx":%.2f,"vy":0,"vz":0}`+"\n",
			id, t, lat0+y/mLat, lon0+x/mLon, vx)
	}
	for i := 0; i < pairs; i++ {
		x := float64(i) * 3000
		if i%2 == 0 {
			rec("s"+strconv.Itoa(i)+"a", x+10*s, 0, 10)
			rec("s"+strconv.Itoa(i)+"b", x+10*s+30, 0, 10)
		} else {
			rec("h"+strconv.Itoa(i)+"a", x-100+100*h, 0, 100)
			rec("h"+strconv.Itoa(i)+"b", x+100-100*h, 5, -100)
		}
	}
	return b
}

type client struct {
	t    testing.TB
	base string
	http *http.Client
}

func (c *client) do(method, path, ct string, body []byte, out any) int {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
	}
	if resp.StatusCode >= 300 {
		c.t.Logf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

func (c *client) upload(module []byte, kind string, multipartForm bool) models.Info {
	c.t.Helper()
	var rec models.Info
	var st int
	if multipartForm {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		fw, _ := w.CreateFormFile("module", "model.wasm")
		fw.Write(module)
		w.WriteField("kind", kind)
		w.WriteField("config", "{}")
		w.Close()
		st = c.do("POST", "/admin/plugins", w.FormDataContentType(), buf.Bytes(), &rec)
	} else {
		st = c.do("POST", "/admin/plugins?kind="+url.QueryEscape(kind), "application/wasm", module, &rec)
	}
	if st != http.StatusCreated {
		c.t.Fatalf("upload: %d", st)
	}
	return rec
}

// TestHotSwapOverREST ingests continuously over REST while it uploads,
// shadows, activates, rolls back and activates again several times: every
// accepted update is predicted once, no request fails, and every risk event
// names the model of the tick that scored it; the ticks ran on exactly the
// sequence of models the admin calls set.
func TestHotSwapOverREST(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Wasm modules")
	}
	ccpa := models.ExampleModule(t, "c-cpa")
	gocpa := models.ExampleModule(t, "go-cpa")
	ctx := context.Background()

	cfg := engine.Default()
	cfg.Workers, cfg.BatchSize = 2, 16
	cfg.ResolveAfter = 0 // the head-on pairs resolve as soon as they separate
	eng, err := engine.New(cfg, engine.Models{Predictor: builtin.Predictor{}, Scorer: builtin.Scorer{}})
	if err != nil {
		t.Fatal(err)
	}
	var tickMu sync.Mutex
	rt, err := plugins.NewRuntime(plugins.RuntimeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	mgr, err := models.New(ctx, models.Config{Engine: lockedEngine{eng, &tickMu}, Runtime: rt, Dir: t.TempDir(),
		Options: plugins.Options{Instances: 2}, CloseDelay: 50 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer mgr.Close(ctx)
	srv, err := api.New(api.Options{Engine: eng, Frame: geo.MustNew(geo.Config{Lat: lat0, Lon: lon0}), AdminEnabled: true,
		Plugins: mgr, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		<-served
	}()
	c := &client{t: t, base: "http://" + ln.Addr().String(), http: &http.Client{Timeout: 3 * time.Minute}} // uploads compile slowly under -race

	// The events of each tick must name the model the tick ran on.
	var (
		tickModel  abi.ModelID
		ticks      atomic.Int64
		wrong      []string
		perModel   = map[string]int{}
		tickModels []string // the model of each tick, consecutive duplicates merged
	)
	eng.AddSink(engine.SinkFunc(func(evs []engine.Event) {
		for _, e := range evs {
			if e.Model != tickModel {
				wrong = append(wrong, fmt.Sprintf("%s %s names %s, tick ran %s", e.Type, e.RiskID, e.Model.Name, tickModel.Name))
			}
			perModel[e.Model.Name+" "+string(e.Type)]++
		}
	}))
	tick := func() {
		tickMu.Lock()
		defer tickMu.Unlock()
		tickModel = eng.Models().Scorer.Model()
		if n := len(tickModels); n == 0 || tickModels[n-1] != tickModel.Name {
			tickModels = append(tickModels, tickModel.Name)
		}
		eng.Tick()
		ticks.Add(1)
	}

	// Ingest: one POST per round, then a tick, so that each vehicle updates
	// once per tick and Predicted must equal Accepted.
	const pairs = 40
	t0 := float64(time.Now().Unix()) - 600
	stop := make(chan struct{})
	ingestDone := make(chan error, 1)
	var posted, failed atomic.Int64
	go func() {
		ic := &http.Client{Timeout: 10 * time.Second}
		for r := 0; ; r++ {
			select {
			case <-stop:
				ingestDone <- nil
				return
			default:
			}
			resp, err := ic.Post(c.base+"/api/v1/locations", "application/x-ndjson", bytes.NewReader(traffic(pairs, r, t0)))
			if err != nil {
				ingestDone <- err
				return
			}
			var res struct {
				Accepted int `json:"accepted"`
			}
			json.NewDecoder(resp.Body).Decode(&res)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted || res.Accepted != 2*pairs {
				failed.Add(1)
			}
			posted.Add(int64(res.Accepted))
			tick()
			time.Sleep(2 * time.Millisecond)
		}
	}()
	settle := func() {
		n := ticks.Load()
		for ticks.Load() < n+15 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	expectScorer := func(step, name string) {
		t.Helper()
		var st struct {
			Plugins models.Status `json:"plugins"`
		}
		if code := c.do("GET", "/system/status", "", nil, &st); code != 200 || st.Plugins.Active["scorer"].Name != name {
			t.Fatalf("%s: status %d, active scorer %+v, want %s", step, code, st.Plugins.Active["scorer"], name)
		}
	}

	settle()
	cRec := c.upload(ccpa, "scorer", true)
	goRec := c.upload(gocpa, "scorer", false)
	if code := c.do("POST", "/admin/plugins/"+goRec.ID[:12]+"/shadow", "application/json", []byte(`{"share":1}`), nil); code != 200 {
		t.Fatalf("shadow: %d", code)
	}
	settle()
	steps := []struct {
		op, id, want string
	}{
		{"activate", cRec.ID, "cpa-c"},
		{"activate", goRec.ID, goRec.Name},
		{"rollback", "", "cpa-c"},
		{"rollback", "", "builtin-cpa"},
		{"activate", goRec.ID, goRec.Name},
		{"activate", cRec.ID, "cpa-c"},
		{"rollback", "", goRec.Name},
	}
	want := []string{"builtin-cpa"}
	for i, s := range steps {
		var code int
		if s.op == "activate" {
			code = c.do("POST", "/admin/plugins/"+s.id+"/activate", "", nil, nil)
		} else {
			code = c.do("POST", "/admin/plugins/rollback", "application/json", []byte(`{"kind":"scorer"}`), nil)
		}
		if code != 200 {
			t.Fatalf("step %d %s: %d", i, s.op, code)
		}
		expectScorer(fmt.Sprintf("step %d", i), s.want)
		want = append(want, s.want)
		settle()
	}
	// The shadow report compared the Go example with the builtin: they are
	// bit-identical, so every difference is 0 and no pair crosses.
	var goInfo models.Info
	c.do("GET", "/admin/plugins/"+goRec.ID, "", nil, &goInfo)
	if sh := goInfo.Shadow; sh == nil || sh.Pairs == 0 || sh.Histogram[0] != sh.Pairs || sh.ActiveOnly+sh.ShadowOnly != 0 {
		t.Fatalf("shadow report %+v", goInfo.Shadow)
	}
	close(stop)
	if err := <-ingestDone; err != nil {
		t.Fatal(err)
	}
	tick() // nothing pending, but be sure

	st := eng.Stats()
	if failed.Load() != 0 {
		t.Fatalf("%d ingest requests failed", failed.Load())
	}
	if st.Accepted != uint64(posted.Load()) || st.Predicted != st.Accepted || st.Applied != st.Accepted {
		t.Fatalf("accepted %d (posted %d), applied %d, predicted %d", st.Accepted, posted.Load(), st.Applied, st.Predicted)
	}
	if len(wrong) > 0 {
		t.Fatalf("%d events name another model than their tick's, e.g. %s", len(wrong), wrong[0])
	}
	if !slices.Equal(tickModels, want) {
		t.Fatalf("ticks ran on %v, want %v", tickModels, want)
	}
	for _, name := range []string{"builtin-cpa", "cpa-c", goRec.Name} {
		if perModel[name+" updated"] == 0 || perModel[name+" opened"] == 0 || perModel[name+" resolved"] == 0 {
			t.Fatalf("model %s: events %v", name, perModel)
		}
	}
	var hist struct {
		Activations []models.Activation `json:"activations"`
	}
	c.do("GET", "/admin/plugins/history", "", nil, &hist)
	if len(hist.Activations) != len(steps) {
		t.Fatalf("%d activations recorded, want %d", len(hist.Activations), len(steps))
	}
	t.Logf("%d updates over %d ticks; events by model: %v", st.Accepted, st.Ticks, perModel)
}

// TestBadUploadsOverREST: each bad module gets a 4xx whose message and
// details say exactly why, and nothing is stored.
func TestBadUploadsOverREST(t *testing.T) {
	ctx := context.Background()
	eng, err := engine.New(engine.Default(), engine.Models{Predictor: builtin.Predictor{}, Scorer: builtin.Scorer{}})
	if err != nil {
		t.Fatal(err)
	}
	rt, _ := plugins.NewRuntime(plugins.RuntimeConfig{})
	defer rt.Close(ctx)
	mgr, err := models.New(ctx, models.Config{Engine: eng, Runtime: rt,
		Options: plugins.Options{Instances: 1, Limits: plugins.Limits{MaxModuleBytes: 64 << 10, InitTimeout: 300 * time.Millisecond}}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer mgr.Close(ctx)
	srv, err := api.New(api.Options{Engine: eng, AdminEnabled: true, Plugins: mgr, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() { srv.Shutdown(ctx); <-served }()
	c := &client{t: t, base: "http://" + ln.Addr().String(), http: &http.Client{Timeout: time.Minute}}

	for _, b := range models.BadUploads(models.ExampleModule(t, "c-cpa")) {
		t.Run(b.Name, func(t *testing.T) {
			c.t = t
			var p struct {
				Error   string           `json:"error"`
				Details []map[string]any `json:"details"`
			}
			code := c.do("POST", "/admin/plugins?kind=scorer", "application/wasm", b.Module, &p)
			wantCode := http.StatusUnprocessableEntity
			if b.Cause == models.RefusedTooLarge {
				wantCode = http.StatusRequestEntityTooLarge
			}
			if code != wantCode || !strings.Contains(p.Error, b.Want) || len(p.Details) == 0 || p.Details[0]["cause"] != b.Cause {
				t.Fatalf("got %d %+v; want %d, cause %s, message containing %q", code, p, wantCode, b.Cause, b.Want)
			}
			if b.Cause == models.RefusedConformance {
				// Every failed vector is a detail naming the field that differs.
				if len(p.Details) < 2 || p.Details[1]["vector"] == "" || !strings.Contains(fmt.Sprint(p.Details[1]["detail"]), "risk") {
					t.Fatalf("details %+v", p.Details)
				}
			}
		})
	}
	c.t = t
	var p struct {
		Error string `json:"error"`
	}
	// Without a kind the manifest's is taken, so a module that cannot be read
	// is refused for what it is, not for a missing kind; a bad kind is a 400.
	if code := c.do("POST", "/admin/plugins", "application/wasm", []byte("\x00asm"), &p); code != http.StatusUnprocessableEntity || !strings.Contains(p.Error, "WebAssembly") {
		t.Fatalf("no kind: %d %q", code, p.Error)
	}
	if code := c.do("POST", "/admin/plugins?kind=scorers", "application/wasm", models.ExampleModule(t, "c-cpa"), &p); code != http.StatusBadRequest || !strings.Contains(p.Error, "kind") {
		t.Fatalf("bad kind: %d %q", code, p.Error)
	}
	var list struct {
		Plugins []models.Info `json:"plugins"`
	}
	if c.do("GET", "/admin/plugins", "", nil, &list); len(list.Plugins) != 0 {
		t.Fatalf("%d plugins stored", len(list.Plugins))
	}
}

// TestCLI drives a server's plugins with `cdp plugin ...`: the same
// operations from the command line, with the server's reasons on failure.
func TestCLI(t *testing.T) {
	ctx := context.Background()
	eng, err := engine.New(engine.Default(), engine.Models{Predictor: builtin.Predictor{}, Scorer: builtin.Scorer{}})
	if err != nil {
		t.Fatal(err)
	}
	rt, _ := plugins.NewRuntime(plugins.RuntimeConfig{})
	defer rt.Close(ctx)
	mgr, err := models.New(ctx, models.Config{Engine: eng, Runtime: rt, Options: plugins.Options{Instances: 1}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer mgr.Close(ctx)
	srv, err := api.New(api.Options{Engine: eng, AdminEnabled: true, Plugins: mgr, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() { srv.Shutdown(ctx); <-served }()
	server := "http://" + ln.Addr().String()

	dir := t.TempDir()
	good := filepath.Join(dir, "cpa.wasm")
	bad := filepath.Join(dir, "bad.wasm")
	cdp := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := cli.Execute(ctx, append(append([]string{"plugin"}, args...), "--server", server),
			cli.Options{Stdout: &out, Stderr: &errb, LookupEnv: func(string) (string, bool) { return "", false }})
		return code, out.String(), errb.String()
	}
	// Without --kind the module's manifest says what it is: a predictor is
	// stored as one, not refused as a scorer.
	pred := filepath.Join(dir, "turn.wasm")
	os.WriteFile(pred, models.ExampleModule(t, "turn-predictor"), 0o644)
	if code, out, errs := cdp("upload", pred); code != 0 || !strings.Contains(out, "(predictor)") {
		t.Fatalf("upload of a predictor without --kind: %d %q %q", code, out, errs)
	}
	os.WriteFile(good, models.ExampleModule(t, "c-cpa"), 0o644)
	os.WriteFile(bad, []byte("not a module"), 0o644)
	code, out, _ := cdp("upload", "--kind", "scorer", "--config", "{}", good)
	if code != 0 || !strings.Contains(out, "uploaded cpa-c 1.0.0") {
		t.Fatalf("upload: %d %q", code, out)
	}
	id := strings.TrimSpace(out[strings.LastIndex(out, "id ")+3:])
	if code, _, errs := cdp("upload", bad); code != 1 || !strings.Contains(errs, "422") || !strings.Contains(errs, "magic bytes") {
		t.Fatalf("bad upload: %d %q", code, errs)
	}
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"list"}, "stored"},
		{[]string{"shadow", "--share", "0.5", id[:8]}, "shadow"},
		{[]string{"list"}, "shadow           cpa-c"},
		{[]string{"activate", id[:8]}, "active scorer: cpa-c 1.0.0 (" + id[:12] + ") (was builtin-cpa"},
		{[]string{"show", id}, `"state": "active"`},
		{[]string{"rollback"}, "active scorer: builtin-cpa 1.0.0 (base model) (rolled back from cpa-c"},
		{[]string{"delete", id[:8]}, "deleted"},
	}
	for _, s := range steps {
		code, out, errs := cdp(s.args...)
		if code != 0 || !strings.Contains(out, s.want) {
			t.Fatalf("cdp plugin %v: %d\n%s%s\nwant %q", s.args, code, out, errs, s.want)
		}
	}
	if code, _, errs := cdp("rollback"); code != 1 || !strings.Contains(errs, "409") {
		t.Fatalf("rollback with nothing active: %d %q", code, errs)
	}
	if code, _, errs := cdp("show", "abc"); code != 1 || !strings.Contains(errs, "400") || !strings.Contains(errs, "prefix of at least 8") {
		t.Fatalf("short id: %d %q", code, errs)
	}
	var errb bytes.Buffer
	if code := cli.Execute(ctx, []string{"plugin", "list", "--server", "localhost:1"}, cli.Options{Stdout: io.Discard, Stderr: &errb}); code != cli.ExitUsage {
		t.Fatalf("bad --server: exit %d %s", code, errb.String())
	}
}
