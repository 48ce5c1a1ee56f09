package host

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/heapprofiler"
	"github.com/chromedp/cdproto/input"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/collision-detection-platform/distributed-platform/api"
	"github.com/collision-detection-platform/distributed-platform/host/config"
)

// The dashboard tests drive Debian's chromium (headless) against a whole
// node: they fail, not skip, when it is missing (.ci/run installs it).

// chromiumPath finds the browser: $CDP_CHROMIUM, else chromium on PATH.
func chromiumPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CDP_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("the dashboard tests need chromium: apt-get install chromium (.ci/run installs it), or set CDP_CHROMIUM")
	return ""
}

// dashNode is a whole node serving on a loopback port, as `cdp serve` runs.
type dashNode struct {
	n        *Node
	base     string
	stopFeed context.CancelFunc
	stop     func()
}

// startDashNode runs a node on cfg with simulate vehicles (0: none);
// withPlugins starts the plugin manager. stopFeed ends the simulation
// (vehicles stay until collision_detection.vehicle_ttl).
func startDashNode(t testing.TB, cfg config.Config, simulate int, withPlugins bool) *dashNode {
	t.Helper()
	n, err := NewNode(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if withPlugins {
		if err := n.StartPlugins(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := n.API(api.Version{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var feed func(context.Context)
	feedCtx, stopFeed := context.WithCancel(context.Background())
	if simulate > 0 {
		sim, err := n.simulator(simulate)
		if err != nil {
			t.Fatal(err)
		}
		feed = func(ctx context.Context) {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			go func() {
				select {
				case <-feedCtx.Done():
					cancel()
				case <-ctx.Done():
				}
			}()
			sim(ctx)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx, ln, srv, feed) }()
	d := &dashNode{n: n, base: "http://" + ln.Addr().String(), stopFeed: stopFeed}
	var once sync.Once
	d.stop = func() {
		once.Do(func() {
			stopFeed()
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(d.stop)
	return d
}

// browser is one headless chromium tab with its console watched.
type browser struct {
	t      testing.TB
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

func newBrowser(t testing.TB) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.WindowSize(1400, 860),
		chromedp.Flag("disable-gpu", true),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); acancel() })
	b := &browser{t: t, ctx: ctx}
	// Start the browser, then watch the console from the first page on.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.errors = append(b.errors, m.String()+" at "+m.URL)
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// consoleErrors returns the errors the page wrote to its console so far.
func (b *browser) consoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatal(err)
	}
}

// eval evaluates a JavaScript expression (awaiting a promise) into v.
func (b *browser) eval(expr string, v any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("eval %s: %v", expr, err)
	}
	if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			b.t.Fatalf("eval %s: %v in %s", expr, err, raw)
		}
	}
}

// waitFor polls a JavaScript condition every 50 ms until it is true.
func (b *browser) waitFor(what, cond string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		// An element not drawn yet reads as "not yet", not as a failure.
		b.eval("(() => { try { return !!("+cond+"); } catch (e) { return false; } })()", &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: not within %v (%s)", what, timeout, cond)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// screenshot saves a PNG of the page (sel "" ) or of one element to
// bin/screenshots/ (gitignored), for people to look at.
func (b *browser) screenshot(name, sel string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	var png []byte
	var err error
	if sel == "" {
		png, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
	} else {
		png, err = chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(sel)))
	}
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := screenshotDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s", p)
}

// screenshotDir is $CDP_SCREENSHOTS, else bin/screenshots of the repository.
func screenshotDir() string {
	if d := os.Getenv("CDP_SCREENSHOTS"); d != "" {
		return d
	}
	_, f, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(f), "..", "bin", "screenshots")
}

// heapMB is the page's used JavaScript heap after a garbage collection.
func (b *browser) heapMB() float64 {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	used, err := chromedp.Run(ctx, chromedp.Action[float64](func(ctx context.Context, t *chromedp.Target) (float64, error) {
		if _, err := cdp.Call(ctx, t, heapprofiler.CollectGarbage, cdp.Empty{}); err != nil {
			return 0, err
		}
		r, err := cdp.Call(ctx, t, cdpruntime.GetHeapUsage, cdp.Empty{})
		return r.UsedSize, err
	}))
	if err != nil {
		b.t.Fatal(err)
	}
	return used / (1 << 20)
}

// riskEvent is what the tests read of a stream event.
type riskEvent struct {
	Type     string  `json:"type"`
	RiskID   string  `json:"risk_id"`
	VehicleA string  `json:"vehicle_a"`
	VehicleB string  `json:"vehicle_b"`
	Risk     float64 `json:"risk"`
	Emitted  float64 `json:"emitted"`
	Model    struct {
		Name, Version, SHA256 string
	} `json:"model"`
}

// watchStream follows /api/v1/risks/stream (query without "?") and sends
// its risk events to the channel until ctx ends.
func watchStream(t testing.TB, ctx context.Context, base, query string) <-chan riskEvent {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/risks/stream?"+query, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	ch := make(chan riskEvent, 1024)
	go func() {
		defer resp.Body.Close()
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "data: {\"id\"") {
				continue
			}
			var ev riskEvent
			if json.Unmarshal([]byte(line[len("data: "):]), &ev) == nil {
				select {
				case ch <- ev:
				default: // the test reads what it needs; never block the stream
				}
			}
		}
	}()
	return ch
}

// stagePair keeps two vehicles 30 m apart closing head-on at 1 m/s each at
// (lat, lon), 300 m up, re-reported every 500 ms until ctx ends: inside the
// default 50 m protected zone at once, so the pair is in loss of separation
// (risk 1) with a closest approach of 0 m.
func stagePair(t testing.TB, ctx context.Context, base, a, b string, lat, lon float64) {
	t.Helper()
	start := time.Now()
	dlon := 15 / (111320 * math.Cos(lat*math.Pi/180))
	post := func() error {
		now := time.Now()
		el := now.Sub(start).Seconds() * 1 / (111320 * math.Cos(lat*math.Pi/180))
		ts := float64(now.UnixNano()) / 1e9
		body := fmt.Sprintf(`[{"id":%q,"t":%.3f,"lat":%.7f,"lon":%.9f,"alt":300,"vx":1,"vy":0,"vz":0},`+
			`{"id":%q,"t":%.3f,"lat":%.7f,"lon":%.9f,"alt":300,"vx":-1,"vy":0,"vz":0}]`,
			a, ts, lat, lon-dlon+el, b, ts, lat, lon+dlon-el)
		resp, err := http.Post(base+"/api/v1/locations", "application/json", strings.NewReader(body))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			b, _ := io.ReadAll(resp.Body)
			return fmt.Errorf("stage %s/%s: %d %s", a, b, resp.StatusCode, b)
		}
		return nil
	}
	if err := post(); err != nil {
		t.Fatal(err)
	}
	go func() {
		tk := time.NewTicker(500 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				_ = post()
			}
		}
	}()
}

// countInBox counts the vehicles GET /api/v1/vehicles lists in a box.
func countInBox(t testing.TB, base string, bbox []float64) int {
	t.Helper()
	q := fmt.Sprintf("%.6f,%.6f,%.6f,%.6f", bbox[0], bbox[1], bbox[2], bbox[3])
	n, cursor := 0, ""
	for {
		var l struct {
			Count      int    `json:"count"`
			NextCursor string `json:"next_cursor"`
		}
		getJSON(t, base+"/api/v1/vehicles?limit=10000&bbox="+q+"&cursor="+url.QueryEscape(cursor), &l)
		n += l.Count
		if cursor = l.NextCursor; cursor == "" {
			return n
		}
	}
}

func getJSON(t testing.TB, u string, v any) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v: %s", u, err, b)
		}
	}
	return resp.StatusCode
}

// TestDashboardLiveTraffic: with `--simulate 1000` the page loads with no
// console error; a conflict staged over REST is drawn as a risk line and
// heads the risk list within 2 s of its "opened" event; clicking it shows
// the pair; and once the traffic is still, the page draws exactly the
// vehicles GET /api/v1/vehicles lists for the visible box; hovering a
// vehicle names it and draws its predicted track, clicking it centres it and
// shows its history (its stored track and its risk events).
func TestDashboardLiveTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("drives chromium")
	}
	cfg := config.Default()
	cfg.System.DataDir = t.TempDir() // a store keeps the vehicles' tracks
	node := startDashNode(t, cfg, 1000, false)
	b := newBrowser(t)
	b.do(chromedp.Navigate(node.base + "/"))
	b.waitFor("the map draws the traffic", "window.cdp && cdp.drawn().at > 0 && cdp.drawn().drawn > 100", 20*time.Second)
	b.waitFor("the coastline is loaded", "cdp.map.lines.coast.length > 100", 10*time.Second)
	b.waitFor("the risk stream is live", "document.querySelector('#conn').textContent === 'live'", 10*time.Second)

	// Stage a conflict in the middle of the view.
	var view struct {
		BBox []float64 `json:"bbox"`
	}
	b.eval("cdp.view()", &view)
	lat, lon := (view.BBox[1]+view.BBox[3])/2, (view.BBox[0]+view.BBox[2])/2
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := watchStream(t, ctx, node.base, "vehicle=stage-a")
	stagePair(t, ctx, node.base, "stage-a", "stage-b", lat, lon)
	var opened riskEvent
	for ev := range events {
		if ev.Type == "opened" {
			opened = ev
			break
		}
	}
	if opened.RiskID == "" {
		t.Fatal("the staged pair opened no risk")
	}
	id := opened.RiskID
	b.waitFor("the staged risk heads the list", fmt.Sprintf("cdp.riskOrder()[0] === %q", id), 10*time.Second)
	b.waitFor("the staged risk is drawn", fmt.Sprintf("cdp.lineDrawn(%q) > 0", id), 10*time.Second)
	var shown, drawn float64
	b.eval(fmt.Sprintf("cdp.firstShown(%q)", id), &shown)
	b.eval(fmt.Sprintf("cdp.lineDrawn(%q)", id), &drawn)
	listLag, lineLag := shown/1000-opened.Emitted, drawn/1000-opened.Emitted
	t.Logf("staged risk %s (risk %.2f): in the list %.0f ms and drawn %.0f ms after its opened event", id, opened.Risk, listLag*1000, lineLag*1000)
	if listLag > 2 || lineLag > 2 {
		t.Fatalf("the staged risk reached the list %.2f s and the map %.2f s after it opened: want both within 2 s", listLag, lineLag)
	}

	// Clicking it shows the pair: named in the detail, both drawn, in view.
	// The list re-renders as events arrive: a row can move between finding
	// it and the click landing, so click again (as a user would) until the
	// staged risk is the one selected.
	for try := 0; ; try++ {
		b.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#risks tbody tr[data-id=%q]`, id))))
		var picked string
		for end := time.Now().Add(2 * time.Second); time.Now().Before(end) && picked != id; time.Sleep(50 * time.Millisecond) {
			b.eval("cdp.map.selected && cdp.map.selected.risk ? cdp.map.selected.risk.id : ''", &picked)
		}
		if picked == id {
			break
		}
		if try == 2 {
			t.Fatalf("three clicks on the staged risk's row selected %q", picked)
		}
	}
	b.waitFor("the detail names the pair",
		`(document.querySelector('#detail .pairids')||{}).textContent === 'stage-a – stage-b'`, 5*time.Second)
	b.waitFor("the map shows the pair", `cdp.map.pair.size === 2 && cdp.map.selected.risk.id === `+fmt.Sprintf("%q", id), 5*time.Second)
	b.waitFor("the history lists the opening", `document.querySelector('#detail .events').textContent.includes('opened')`, 5*time.Second)
	b.eval("cdp.view()", &view)
	if lat < view.BBox[1] || lat > view.BBox[3] || lon < view.BBox[0] || lon > view.BBox[2] {
		t.Fatalf("after the click the view %v does not hold the pair at %f,%f", view.BBox, lat, lon)
	}
	var zoom float64
	b.eval("cdp.view().zoom", &zoom)
	if zoom < 14 {
		t.Fatalf("zoom %.1f after the click: want the pair close up", zoom)
	}
	time.Sleep(600 * time.Millisecond) // the next map answer around the pair
	b.screenshot("dashboard-risk", "")

	// The list sorts by another column when its header is clicked.
	b.do(chromedp.Click(chromedp.CSS(`#risks th[data-sort="dmin"]`)))
	var sorted bool
	b.eval(`(() => { const rows = cdp.riskOrder().map((id) => cdp.map.risks.find((r) => r.id === id));
		return rows.length > 2 && rows.every((r, i) => !r || i === 0 || !rows[i-1] || rows[i-1].dmin <= r.dmin); })()`, &sorted)
	if !sorted {
		t.Fatal("the list is not in closest-approach order after clicking its header")
	}
	b.do(chromedp.Click(chromedp.CSS(`#risks th[data-sort="risk"]`)))

	// The system panel charts what the server measures, live.
	b.do(chromedp.Click(chromedp.CSS(`#tabs button[data-tab="system"]`)))
	b.waitFor("the system charts have points", "cdp.charts().points >= 3 && cdp.charts().ingest > 0 && cdp.charts().open > 0 && cdp.charts().phases.some((p) => p > 0)", 15*time.Second)
	b.waitFor("the latency chart has a point", "cdp.charts().latencyP50 !== null", 10*time.Second)
	b.screenshot("dashboard-system", "aside")
	b.do(chromedp.Click(chromedp.CSS(`#tabs button[data-tab="risks"]`)))

	// Back to the whole traffic, then still traffic: what is drawn for the
	// visible box is what the API lists for it.
	b.eval("cdp.fitTraffic()", nil)
	time.Sleep(time.Second)
	b.screenshot("dashboard", "")
	cancel() // the staged pair stops reporting
	node.stopFeed()
	time.Sleep(500 * time.Millisecond) // the engine applies the last reports
	stillSince := float64(time.Now().UnixMilli())
	b.waitFor("a map answer after the traffic stopped", fmt.Sprintf("cdp.drawn().at > %f", stillSince), 5*time.Second)
	var d struct {
		Drawn int       `json:"drawn"`
		BBox  []float64 `json:"bbox"`
		Mode  string    `json:"mode"`
		Total int       `json:"total"`
	}
	b.eval("cdp.drawn()", &d)
	want := countInBox(t, node.base, d.BBox)
	t.Logf("view %v: %d vehicles drawn (%s), the API lists %d", d.BBox, d.Drawn, d.Mode, want)
	if d.Mode != "vehicles" || d.Drawn != want || want < 500 {
		t.Fatalf("drawn %d in mode %s; GET /api/v1/vehicles lists %d in %v", d.Drawn, d.Mode, want, d.BBox)
	}
	// A zoomed-in view: fewer vehicles, still exactly the API's.
	b.eval(fmt.Sprintf("cdp.setView(%f, %f, %f)", lon, lat, 14.0), nil)
	zoomed := float64(time.Now().UnixMilli())
	b.waitFor("a map answer for the zoomed view", fmt.Sprintf("cdp.drawn().at > %f", zoomed), 5*time.Second)
	b.eval("cdp.drawn()", &d)
	if want := countInBox(t, node.base, d.BBox); d.Drawn != want || d.Drawn >= 500 {
		t.Fatalf("zoomed: drawn %d, the API lists %d in %v", d.Drawn, want, d.BBox)
	}
	b.screenshot("dashboard-map", "")

	// Hovering a vehicle names it and draws its predicted track; clicking it
	// centres the map on it and shows its state and risk history.
	var pt struct {
		ID  string  `json:"id"`
		X   float64 `json:"x"`
		Y   float64 `json:"y"`
		Lat float64 `json:"lat"`
		Lon float64 `json:"lon"`
	}
	b.eval(`(() => {
		const m = cdp.map, r = document.querySelector('#map').getBoundingClientRect();
		const at = (v) => m.toScreen(v.lon, v.lat);
		const alone = (v) => { const [x, y] = at(v); return x > 60 && y > 60 && x < m.w - 60 && y < m.h - 60 &&
			m.data.vehicles.every((o) => o === v || Math.hypot(at(o)[0] - x, at(o)[1] - y) > 15); };
		const v = m.data.vehicles.find(alone);
		if (!v) return null;
		const [x, y] = at(v);
		return {id: v.id, x: r.left + x, y: r.top + y, lat: v.lat, lon: v.lon};
	})()`, &pt)
	if pt.ID == "" {
		t.Fatal("no vehicle stands alone in the zoomed view")
	}
	b.do(chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, pt.X, pt.Y))
	b.waitFor("the tooltip names the hovered vehicle",
		fmt.Sprintf("!document.querySelector('#tooltip').hidden && document.querySelector('#tooltip').textContent.startsWith(%q)", pt.ID), 5*time.Second)
	b.waitFor("its predicted track is drawn", fmt.Sprintf("cdp.map.lastPredicted === %q", pt.ID), 5*time.Second)
	b.do(chromedp.MouseClickXY(pt.X, pt.Y))
	b.waitFor("the detail shows the clicked vehicle", fmt.Sprintf(
		"cdp.map.selected && cdp.map.selected.id === %q && document.querySelector('#detail h3').textContent === %q", pt.ID, "vehicle "+pt.ID), 5*time.Second)
	b.waitFor("its risk history is loaded", "!document.querySelector('#detail .events').textContent.startsWith('loading')", 5*time.Second)
	b.waitFor("its stored track is drawn", fmt.Sprintf("(cdp.map.trails.get(%q) || []).length >= 2", pt.ID), 5*time.Second)
	b.eval("cdp.view()", &view)
	if cLat, cLon := (view.BBox[1]+view.BBox[3])/2, (view.BBox[0]+view.BBox[2])/2; math.Abs(cLat-pt.Lat) > 1e-3 || math.Abs(cLon-pt.Lon) > 1e-3 {
		t.Fatalf("after the click the view is centred on %f,%f, the vehicle is at %f,%f", cLat, cLon, pt.Lat, pt.Lon)
	}
	var frames map[string]float64
	b.eval("cdp.frames()", &frames)
	t.Logf("frames drawn %.0f, mean %.1f ms, p95 %.1f ms, max %.1f ms", frames["frames"], frames["meanMs"], frames["p95Ms"], frames["maxMs"])
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Fatalf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}
