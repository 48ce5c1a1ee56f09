package api_test

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/api"
	"github.com/collision-detection-platform/distributed-platform/builtin"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/ingest"
)

// altitudeScorer scores a pair by altitude: risk = the lower frame z of the
// two / 1000, so a test sets each pair's risk with its height.
type altitudeScorer struct{}

func (altitudeScorer) Model() abi.ModelID { return abi.ModelID{Name: "altitude", Version: "1"} }
func (altitudeScorer) Score(_ context.Context, _ abi.Params, vs []abi.Vehicle, pairs []abi.Pair, res []abi.Result) error {
	for i, p := range pairs {
		res[i] = abi.Result{Risk: min(1, min(vs[p.A].Z, vs[p.B].Z)/1000), TCA: 1, DMin: 5, TIn: -1, TOut: -1}
	}
	return nil
}

// riskPage is a page of GET /api/v1/risks.
type riskPage struct {
	Risks []struct {
		ID        string  `json:"id"`
		VehicleA  string  `json:"vehicle_a"`
		Risk      float64 `json:"risk"`
		Seq       int     `json:"seq"`
		Resolving bool    `json:"resolving"`
	} `json:"risks"`
	Count      int    `json:"count"`
	Total      int    `json:"total"`
	NextCursor string `json:"next_cursor"`
}

// pageItem is a risk as a page shows it: its vehicle_a and risk, and its
// risk id (ties in risk are ordered by risk id).
type pageItem struct {
	id     string
	risk   float64
	riskID string
}

func (p pageItem) String() string { return fmt.Sprintf("%s:%g", p.id, p.risk) }

// ordered sorts items as the API does: highest risk first, then risk id.
func ordered(items []pageItem) []pageItem {
	out := slices.Clone(items)
	slices.SortFunc(out, func(a, b pageItem) int {
		if c := cmp.Compare(b.risk, a.risk); c != 0 {
			return c
		}
		return strings.Compare(a.riskID, b.riskID)
	})
	return out
}

// walkRisks reads every page of query, checking each page's shape.
func walkRisks(t *testing.T, h *harness, query string, limit int) (items []pageItem, total int) {
	t.Helper()
	cur := ""
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatalf("%s: paging does not end", query)
		}
		a := h.get(fmt.Sprintf("/api/v1/risks?%s&limit=%d&cursor=%s", query, limit, url.QueryEscape(cur)))
		if a.status != http.StatusOK {
			t.Fatalf("%s: status %d: %s", query, a.status, a.body)
		}
		var p riskPage
		a.json(t, &p)
		if p.Count != len(p.Risks) || p.Count > limit {
			t.Fatalf("%s: page of %d, count %d, limit %d", query, len(p.Risks), p.Count, limit)
		}
		for _, r := range p.Risks {
			items = append(items, pageItem{r.VehicleA, r.Risk, r.ID})
		}
		total = p.Total
		if p.NextCursor == "" {
			return items, total
		}
		if p.Count != limit {
			t.Fatalf("%s: a short page (%d of %d) with a next cursor", query, p.Count, limit)
		}
		cur = p.NextCursor
	}
}

// riskField places pairs "pNN-a"/"pNN-b" 10 m apart, 5 km from each other,
// at the given heights (risk = height/1000), with the given class.
func riskField(t0 float64, heights []float64, class func(i int) string) string {
	var parts []string
	for i, z := range heights {
		x := float64(i) * 5000
		c := class(i)
		for _, side := range []struct {
			name string
			dx   float64
		}{{"a", 0}, {"b", 10}} {
			r := rec(fmt.Sprintf("p%02d-%s", i, side.name), t0, x+side.dx, 0, z, 0, 0)
			if c != "" {
				r = strings.TrimSuffix(r, "}") + fmt.Sprintf(`,"class":%q}`, c)
			}
			parts = append(parts, r)
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// TestRisksPaging: GET /api/v1/risks pages the open risks highest first
// (ties by id) or by id, every risk once, with a total; min_risk, bbox, class
// and vehicle filter; limits and cursors are checked.
func TestRisksPaging(t *testing.T) {
	classes, err := ingest.NewClasses(map[string]ingest.ClassSpec{
		"drone": {Horizontal: 50, Vertical: 25}, "heli": {Horizontal: 50, Vertical: 25}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := ingest.NewValidator(ingest.Options{}, classes)
	if err != nil {
		t.Fatal(err)
	}
	e := newEngineWith(t, nil, engine.Models{Predictor: builtin.Predictor{}, Scorer: altitudeScorer{}})
	h := newHarnessWith(t, func(o *api.Options) { o.Validator, o.MaxLimit, o.DefaultLimit = v, 50, 4 }, e)
	heights := []float64{500, 900, 700, 700, 400, 800, 600, 700, 950, 450, 650}
	t0 := nowUnix()
	if r := h.ingest(riskField(t0, heights, func(i int) string {
		if i%3 == 0 {
			return "heli"
		}
		return "drone"
	})); r.Accepted != 2*len(heights) {
		t.Fatalf("ingest: %+v", r)
	}
	h.eng.Tick()
	idx := func(id string) int {
		var i int
		fmt.Sscanf(id, "p%02d", &i)
		return i
	}

	// Every risk, with its id, from one page in id order.
	all, _ := walkRisks(t, h, "sort=id", 50)
	if len(all) != len(heights) || !slices.IsSortedFunc(all, func(a, b pageItem) int { return strings.Compare(a.riskID, b.riskID) }) {
		t.Fatalf("sort=id: %v, want %d risks in risk-id order", all, len(heights))
	}
	for _, it := range all {
		if z := heights[idx(it.id)]; it.risk != z/1000 {
			t.Fatalf("%s at risk %g, want %g", it.id, it.risk, z/1000)
		}
	}
	byRisk := ordered(all)
	for _, limit := range []int{1, 3, 4, 50} {
		got, total := walkRisks(t, h, "sort=risk", limit)
		if fmt.Sprint(got) != fmt.Sprint(byRisk) || total != len(heights) {
			t.Fatalf("sort=risk limit %d: %v (total %d), want %v", limit, got, total, byRisk)
		}
	}
	if got, _ := walkRisks(t, h, "sort=id", 3); fmt.Sprint(got) != fmt.Sprint(all) {
		t.Fatalf("sort=id in pages of 3: %v, want %v", got, all)
	}
	// The default sort is by risk, the default limit api.default_limit.
	var p riskPage
	h.get("/api/v1/risks").json(t, &p)
	if p.Count != 4 || p.Total != len(heights) || p.Risks[0].Risk != 0.95 || p.NextCursor == "" {
		t.Fatalf("default page: %+v", p)
	}

	keep := func(f func(i int, it pageItem) bool) []pageItem {
		var out []pageItem
		for i, it := range byRisk {
			if f(i, it) {
				out = append(out, it)
			}
		}
		return out
	}
	for _, c := range []struct {
		query string
		want  []pageItem
	}{
		{"min_risk=0.7", keep(func(_ int, it pageItem) bool { return it.risk >= 0.7 })},
		{"class=heli", keep(func(_ int, it pageItem) bool { return idx(it.id)%3 == 0 })},
		{"class=heli,drone&min_risk=0.9", keep(func(_ int, it pageItem) bool { return it.risk >= 0.9 })},
		// Frame box around pairs 2..4 only (x 10..20 km).
		{"crs=frame&bbox=9000,-100,21000,100", keep(func(_ int, it pageItem) bool { i := idx(it.id); return i >= 2 && i <= 4 })},
		{"vehicle=p05-b", keep(func(_ int, it pageItem) bool { return idx(it.id) == 5 })},
	} {
		got, total := walkRisks(t, h, c.query, 2)
		if fmt.Sprint(got) != fmt.Sprint(c.want) || total != len(c.want) {
			t.Errorf("%s: %v (total %d), want %v", c.query, got, total, c.want)
		}
	}

	for _, q := range []string{
		"limit=0", "limit=51", "limit=x", "sort=speed", "min_risk=1.5", "min_risk=x",
		"cursor=@@", "cursor=" + url.QueryEscape(p.NextCursor) + "&sort=id", "class=boat", "bbox=1,2,3",
		"resolving=maybe",
	} {
		a := h.get("/api/v1/risks?" + q)
		if a.status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400: %s", q, a.status, a.body)
			continue
		}
		msg, _ := a.problem(t)
		param := strings.SplitN(q, "=", 2)[0]
		if strings.Contains(q, "&sort=id") {
			param = "cursor"
		}
		if !strings.Contains(msg, param) {
			t.Errorf("%s: error %q does not name %s", q, msg, param)
		}
	}
}

// TestRisksShowCurrentAndResolving: the list shows a risk's current
// assessment, not its last event's, marks the ones below the band that wait to
// resolve, and resolving=true/false selects them.
func TestRisksShowCurrentAndResolving(t *testing.T) {
	e := newEngineWith(t, func(c *engine.Config) { c.ResolveAfter = 30 },
		engine.Models{Predictor: builtin.Predictor{}, Scorer: altitudeScorer{}})
	h := newHarnessWith(t, nil, e)
	t0 := nowUnix() - 5
	h.ingest(riskField(t0, []float64{900, 800}, func(int) string { return "" }))
	h.eng.Tick()
	// Pair 0 falls to 0.85 (below update_risk_delta: no event), pair 1 to
	// 0.1 (below min_risk_level - hysteresis: resolving).
	h.ingest("[" + rec("p00-a", t0+1, 0, 0, 850, 0, 0) + "," + rec("p00-b", t0+1, 10, 0, 850, 0, 0) + "," +
		rec("p01-a", t0+1, 5000, 0, 100, 0, 0) + "," + rec("p01-b", t0+1, 5010, 0, 100, 0, 0) + "]")
	h.eng.Tick()
	var p riskPage
	h.get("/api/v1/risks").json(t, &p)
	if p.Count != 2 || p.Risks[0].VehicleA != "p00-a" || p.Risks[0].Risk != 0.85 || p.Risks[0].Seq != 0 ||
		p.Risks[0].Resolving || p.Risks[1].Risk != 0.1 || !p.Risks[1].Resolving {
		t.Fatalf("risks: %+v, want p00 at its current 0.85 (seq 0) and p01 at 0.1 resolving", p)
	}
	steady := p.Risks[0].ID
	for q, want := range map[string]string{"resolving=true": "p01-a", "resolving=false": "p00-a"} {
		p = riskPage{}
		h.get("/api/v1/risks?"+q).json(t, &p)
		if p.Count != 1 || p.Risks[0].VehicleA != want {
			t.Errorf("%s: %+v, want only %s", q, p, want)
		}
	}
	var one struct {
		Risk struct {
			Risk      float64 `json:"risk"`
			Resolving bool    `json:"resolving"`
		} `json:"risk"`
	}
	h.get("/api/v1/risks/"+steady).json(t, &one)
	if one.Risk.Risk != 0.85 || one.Risk.Resolving {
		t.Fatalf("GET /risks/{id}: %+v, want the current 0.85", one)
	}
}

// TestVehiclesSortByRisk: sort=risk lists the vehicles with the highest open
// risk first, then the rest by id, every vehicle once across pages; min_risk
// keeps those with an open risk at or above it.
func TestVehiclesSortByRisk(t *testing.T) {
	e := newEngineWith(t, nil, engine.Models{Predictor: builtin.Predictor{}, Scorer: altitudeScorer{}})
	h := newHarnessWith(t, nil, e)
	t0 := nowUnix()
	h.ingest(riskField(t0, []float64{500, 900, 700}, func(int) string { return "" }))
	// Three lone vehicles: no risk.
	h.ingest("[" + rec("lone-2", t0, 90000, 0, 100, 0, 0) + "," + rec("lone-1", t0, 95000, 0, 100, 0, 0) + "," +
		rec("lone-3", t0, 99000, 0, 100, 0, 0) + "]")
	h.eng.Tick()
	walk := func(query string) []string {
		var ids []string
		cur := ""
		for pages := 0; pages < 20; pages++ {
			var l struct {
				Vehicles []struct {
					ID   string   `json:"id"`
					Risk *float64 `json:"risk"`
				} `json:"vehicles"`
				NextCursor string `json:"next_cursor"`
			}
			a := h.get("/api/v1/vehicles?limit=2&" + query + "&cursor=" + url.QueryEscape(cur))
			if a.status != http.StatusOK {
				t.Fatalf("%s: %d %s", query, a.status, a.body)
			}
			a.json(t, &l)
			for _, v := range l.Vehicles {
				if v.Risk == nil {
					t.Fatalf("%s: vehicle %s without its risk", query, v.ID)
				}
				ids = append(ids, fmt.Sprintf("%s:%g", v.ID, *v.Risk))
			}
			if l.NextCursor == "" {
				return ids
			}
			cur = l.NextCursor
		}
		t.Fatalf("%s: paging does not end", query)
		return nil
	}
	want := "[p01-a:0.9 p01-b:0.9 p02-a:0.7 p02-b:0.7 p00-a:0.5 p00-b:0.5 lone-1:0 lone-2:0 lone-3:0]"
	if got := fmt.Sprint(walk("sort=risk")); got != want {
		t.Fatalf("sort=risk: %s, want %s", got, want)
	}
	if got := fmt.Sprint(walk("sort=risk&min_risk=0.6")); got != "[p01-a:0.9 p01-b:0.9 p02-a:0.7 p02-b:0.7]" {
		t.Fatalf("sort=risk&min_risk=0.6: %s", got)
	}
	if got := fmt.Sprint(walk("sort=id&min_risk=0")); got != "[p00-a:0.5 p00-b:0.5 p01-a:0.9 p01-b:0.9 p02-a:0.7 p02-b:0.7]" {
		t.Fatalf("sort=id&min_risk=0: %s", got)
	}
}

// gate holds a model call until release is closed, after closing entered
// (once): a deliberately long tick.
type gate struct {
	entered, release chan struct{}
	once             sync.Once
}

func newGate() *gate { return &gate{entered: make(chan struct{}), release: make(chan struct{})} }

func (g *gate) wait() {
	g.once.Do(func() { close(g.entered) })
	<-g.release
}

// blockingScorer scores as altitudeScorer once its gate opens.
type blockingScorer struct{ *gate }

func (blockingScorer) Model() abi.ModelID { return abi.ModelID{Name: "blocking", Version: "1"} }
func (s blockingScorer) Score(ctx context.Context, p abi.Params, vs []abi.Vehicle, pairs []abi.Pair, res []abi.Result) error {
	s.wait()
	return altitudeScorer{}.Score(ctx, p, vs, pairs, res)
}

// blockingPredictor predicts as the builtin once its gate opens: it holds
// the tick in a phase that writes the state table.
type blockingPredictor struct{ *gate }

func (blockingPredictor) Model() abi.ModelID { return abi.ModelID{Name: "blocking", Version: "1"} }
func (p blockingPredictor) Predict(ctx context.Context, pr abi.Params, vs []abi.Vehicle, boxes []abi.Box, samples []abi.Point) error {
	p.wait()
	return builtin.Predictor{}.Predict(ctx, pr, vs, boxes, samples)
}

// TestMonitoringAnswersDuringLongTick: /system/status, /metrics, /healthz
// and /readyz answer while a tick is stuck in any phase, even one that
// writes the state table (prediction); the list endpoints answer while it
// scores. The answers come from the last finished tick.
func TestMonitoringAnswersDuringLongTick(t *testing.T) {
	monitoring := []string{"/system/status", "/metrics", "/healthz", "/readyz"}
	for _, c := range []struct {
		name  string
		g     *gate
		m     func(*gate) engine.Models
		paths []string
	}{
		{"predict", newGate(), func(g *gate) engine.Models {
			return engine.Models{Predictor: blockingPredictor{g}, Scorer: altitudeScorer{}}
		}, monitoring},
		{"score", newGate(), func(g *gate) engine.Models {
			return engine.Models{Predictor: builtin.Predictor{}, Scorer: blockingScorer{g}}
		}, append(monitoring, "/api/v1/vehicles", "/api/v1/risks", "/api/v1/vehicles?sort=risk")},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEngineWith(t, func(c *engine.Config) { c.Workers = 1 }, engine.Models{Predictor: builtin.Predictor{}, Scorer: altitudeScorer{}})
			h := newHarnessWith(t, nil, e)
			h.ingest(riskField(nowUnix()-1, []float64{900}, func(int) string { return "" }))
			h.eng.Tick()
			e.SetModels(c.m(c.g))
			h.ingest(riskField(nowUnix(), []float64{800, 700}, func(int) string { return "" }))
			ticked := make(chan struct{})
			go func() { defer close(ticked); h.eng.Tick() }()
			<-c.g.entered
			released := false
			defer func() {
				if !released {
					close(c.g.release)
					<-ticked
				}
			}()
			for _, path := range c.paths {
				a := h.get(path) // the client gives up after 10 s: a wait for the tick fails here
				if a.status != http.StatusOK {
					t.Fatalf("%s during a long tick: %d %s", path, a.status, a.body)
				}
			}
			var st struct {
				Vehicles  int `json:"vehicles"`
				OpenRisks int `json:"open_risks"`
			}
			h.get("/system/status").json(t, &st)
			if st.Vehicles != 2 || st.OpenRisks != 1 {
				t.Fatalf("status during the tick: %+v, want the last tick's 2 vehicles and 1 open risk", st)
			}
			select {
			case <-ticked:
				t.Fatal("the tick ended before its model was released")
			default:
			}
			close(c.g.release)
			released = true
			<-ticked
			h.get("/system/status").json(t, &st)
			if st.Vehicles != 4 || st.OpenRisks != 2 {
				t.Fatalf("after the tick: %+v, want 4 vehicles and 2 open risks", st)
			}
		})
	}
}
