package engine

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"testing"
	"time"
	"unsafe"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/builtin"
)

// TestRisksResolvingSince: a risk below the resolve threshold says since
// when it waits to resolve, and is no longer resolving once it rises again.
func TestRisksResolvingSince(t *testing.T) {
	sc := &scriptedScorer{risks: []float64{0.9, 0.1, 0.1, 0.9}}
	cfg := Default()
	cfg.ResolveAfter = 10
	e, _ := newTestEngine(t, cfg, Models{Predictor: builtin.Predictor{}, Scorer: sc})
	t0 := 1_700_000_000.0
	step := func(k int) Risk {
		t.Helper()
		tt := t0 + float64(k)
		submit(t, e, Update{ID: []byte("a"), V: drone(0, 0, tt)}, Update{ID: []byte("b"), V: drone(30, 0, tt)})
		rs := e.Risks()
		if len(rs) != 1 {
			t.Fatalf("step %d: %d open risks, want 1", k, len(rs))
		}
		return rs[0]
	}
	if r := step(0); r.Resolving || r.ResolvingSince != 0 {
		t.Fatalf("opened: %+v", r)
	}
	if r := step(1); !r.Resolving || r.ResolvingSince != t0+1 {
		t.Fatalf("below the band: %+v, want resolving since %v", r, t0+1)
	}
	if r := step(2); !r.Resolving || r.ResolvingSince != t0+1 {
		t.Fatalf("still below: %+v, want resolving since %v", r, t0+1)
	}
	if r := step(3); r.Resolving || r.ResolvingSince != 0 || r.Risk != 0.9 {
		t.Fatalf("risen again: %+v, want not resolving at 0.9", r)
	}
}

// blockingScorer holds every Score call until release is closed, so that a
// test can act while a tick is in its scoring phase.
type blockingScorer struct {
	entered chan struct{}
	release chan struct{}
}

func (s *blockingScorer) Model() abi.ModelID { return abi.ModelID{Name: "blocking"} }
func (s *blockingScorer) Score(ctx context.Context, p abi.Params, vs []abi.Vehicle, pairs []abi.Pair, res []abi.Result) error {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	<-s.release
	return builtin.Scorer{}.Score(ctx, p, vs, pairs, res)
}

// TestReadsDoNotWaitForScoring: while a tick scores (here: forever, until
// released), Stats, Risks, Vehicle, Vehicles and TrySubmitChecked answer.
func TestReadsDoNotWaitForScoring(t *testing.T) {
	sc := &blockingScorer{entered: make(chan struct{}, 1), release: make(chan struct{})}
	e, log := newTestEngine(t, Default(), Models{Predictor: builtin.Predictor{}, Scorer: sc})
	t0 := 1_700_000_000.0
	if err := e.TrySubmit([]Update{{ID: []byte("a"), V: drone(0, 0, t0)}, {ID: []byte("b"), V: drone(30, 0, t0)}}); err != nil {
		t.Fatal(err)
	}
	ticked := make(chan TickStats)
	go func() { ticked <- e.Tick() }()
	<-sc.entered
	reads := make(chan struct{})
	go func() {
		defer close(reads)
		if st := e.Stats(); st.Ticks != 0 {
			t.Errorf("stats during the first tick: %d ticks", st.Ticks)
		}
		_ = e.Risks()
		if _, ok := e.Vehicle("a"); !ok {
			t.Error("vehicle a applied by the running tick is not visible")
		}
		e.Vehicles(func(VehicleState) bool { return true })
		v := make([]Verdict, 1)
		if n, err := e.TrySubmitChecked([]Update{{ID: []byte("a"), V: drone(0, 0, t0-1)}}, v); err != nil || n != 0 || v[0] != VerdictStale {
			t.Errorf("checked submit during scoring: %d %v %v", n, v, err)
		}
	}()
	select {
	case <-reads:
	case <-time.After(20 * time.Second):
		t.Fatal("reads blocked while the tick was scoring")
	}
	close(sc.release)
	if ts := <-ticked; ts.Pairs != 1 || len(log.evs) != 1 {
		t.Fatalf("tick %+v, events %+v: want the pair scored and opened", ts, log.evs)
	}
	if st := e.Stats(); st.Ticks != 1 || st.Vehicles != 2 || st.OpenRisks != 1 {
		t.Fatalf("stats after the tick: %+v", st)
	}
}

// TestTrySubmitCheckedVerdicts: stale, duplicate and too-old updates are
// named at submit and not queued; the rest of the batch is.
func TestTrySubmitCheckedVerdicts(t *testing.T) {
	cfg := Default()
	cfg.VehicleTTL = 30
	e, _ := newTestEngine(t, cfg, builtinModels())
	t0 := 1_700_000_000.0
	submit(t, e, Update{ID: []byte("a"), V: drone(0, 0, t0)}, Update{ID: []byte("b"), V: drone(5000, 0, t0+100)})
	ups := []Update{
		{ID: []byte("a"), V: drone(0, 0, t0+90)},   // newer: accepted
		{ID: []byte("b"), V: drone(0, 0, t0+99)},   // older than b's state
		{ID: []byte("b"), V: drone(0, 0, t0+100)},  // same time as b's state
		{ID: []byte("c"), V: drone(0, 0, t0+60)},   // new vehicle, but before clock - ttl
		{ID: []byte("d"), V: drone(900, 0, t0+71)}, // new vehicle in the window
	}
	v := make([]Verdict, len(ups))
	n, err := e.TrySubmitChecked(ups, v)
	if err != nil {
		t.Fatal(err)
	}
	want := []Verdict{VerdictAccepted, VerdictStale, VerdictDuplicate, VerdictTooOld, VerdictAccepted}
	for i := range want {
		if v[i] != want[i] {
			t.Fatalf("verdict %d = %v, want %v", i, v[i], want[i])
		}
	}
	if n != 2 || e.Pending() != 2 {
		t.Fatalf("queued %d (pending %d), want 2", n, e.Pending())
	}
	e.Tick()
	st := e.Stats()
	if st.Stale != 2 || st.Duplicates != 1 || st.Vehicles != 3 {
		t.Fatalf("stats %+v: want 2 stale, 1 duplicate, vehicles a b d", st)
	}
	if _, ok := e.Vehicle("c"); ok {
		t.Fatal("the too-old update was applied")
	}
	if VerdictTooOld.String() != "too_old" || VerdictStale.String() != "stale" {
		t.Fatal("verdict names")
	}
}

// yRiskScorer scores a pair at its first vehicle's Y / 1000 while the two are
// within 1 km in X, and 0 beyond: it sets each pair's risk from the test.
type yRiskScorer struct{}

func (yRiskScorer) Model() abi.ModelID { return abi.ModelID{Name: "y-risk"} }
func (yRiskScorer) Score(_ context.Context, _ abi.Params, vs []abi.Vehicle, pairs []abi.Pair, res []abi.Result) error {
	for i, p := range pairs {
		a, b := &vs[p.A], &vs[p.B]
		r := 0.0
		if math.Abs(a.X-b.X) < 1000 {
			r = a.Y / 1000
		}
		res[i] = abi.Result{Risk: r, TCA: 1, DMin: 10, TIn: -1, TOut: -1}
	}
	return nil
}

// riskPair returns the two updates of pair k: 30 m apart, 10 km from the
// other pairs, scored at risk r by yRiskScorer (apart: 2 km, risk 0).
func riskPair(k int, r, t float64, apart bool) []Update {
	x := float64(k) * 10_000
	d := 30.0
	if apart {
		d = 2000
	}
	a, b := drone(x, 0, t), drone(x+d, 0, t)
	a.Y, b.Y = r*1000, r*1000
	return []Update{{ID: []byte(fmt.Sprintf("p%02da", k)), V: a}, {ID: []byte(fmt.Sprintf("p%02db", k)), V: b}}
}

// TestMaxOpenRisksKeepsHighest: past max_open_risks the highest risks are
// open, the rest counted as untracked; a higher newcomer displaces the lowest
// (resolved with reason "capacity"); the engine reports saturation and its
// end once the traffic thins, and tracks new risks again.
func TestMaxOpenRisksKeepsHighest(t *testing.T) {
	cfg := Default()
	cfg.MaxOpenRisks = 10
	cfg.ResolveAfter = 0
	cfg.SaturationHold = time.Millisecond
	var calls []bool
	cfg.OnSaturation = func(s bool, st Stats) { calls = append(calls, s) }
	e, log := newTestEngine(t, cfg, Models{Predictor: builtin.Predictor{}, Scorer: yRiskScorer{}})
	t0 := 1_700_000_000.0
	var ups []Update
	for k := range 40 {
		ups = append(ups, riskPair(k, 0.3+0.01*float64(k), t0, false)...)
	}
	ts := submitStats(t, e, ups)
	st := e.Stats()
	if st.OpenRisks != 10 || ts.Untracked != 30 || st.Untracked != 30 || !st.Saturated {
		t.Fatalf("40 pairs at risk, cap 10: tick %+v, stats %+v", ts, st)
	}
	for _, r := range e.Risks() {
		if r.Risk < 0.6 {
			t.Fatalf("open risk %+v: want only the ten highest (>= 0.6)", r)
		}
	}
	if len(calls) != 1 || !calls[0] {
		t.Fatalf("OnSaturation calls %v, want [true]", calls)
	}
	// A riskier newcomer displaces the lowest open risk (pair 30, 0.6).
	n := len(log.evs)
	submitStats(t, e, riskPair(50, 0.95, t0+1, false))
	evs := log.evs[n:]
	if len(evs) != 2 || evs[0].Type != EventResolved || evs[0].Reason != ReasonCapacity ||
		evs[0].VehicleA != "p30a" || evs[1].Type != EventOpened || evs[1].VehicleA != "p50a" {
		t.Fatalf("events after a 0.95 newcomer: %+v", evs)
	}
	if st := e.Stats(); st.OpenRisks != 10 || st.Displaced != 1 {
		t.Fatalf("after displacement: %+v", st)
	}
	// A lower newcomer is only counted.
	n = len(log.evs)
	submitStats(t, e, riskPair(51, 0.4, t0+2, false))
	if len(log.evs) != n || e.Stats().Untracked != 31 {
		t.Fatalf("a 0.4 newcomer at the cap: events %+v, untracked %d", log.evs[n:], e.Stats().Untracked)
	}
	// The traffic thins: every pair moves apart, the risks resolve.
	ups = ups[:0]
	for k := range 52 {
		ups = append(ups, riskPair(k, 0.5, t0+3, true)...)
	}
	submitStats(t, e, ups)
	if st := e.Stats(); st.OpenRisks != 0 {
		t.Fatalf("all pairs apart, %d risks still open", st.OpenRisks)
	}
	time.Sleep(5 * time.Millisecond)
	e.Tick()
	if st := e.Stats(); st.Saturated || len(calls) != 2 || calls[1] {
		t.Fatalf("after the hold: saturated %v, OnSaturation calls %v", st.Saturated, calls)
	}
	// And it tracks again.
	submitStats(t, e, riskPair(3, 0.7, t0+4, false))
	if st := e.Stats(); st.OpenRisks != 1 {
		t.Fatalf("a new risk after recovery: %d open", st.OpenRisks)
	}
}

func submitStats(t *testing.T, e *Engine, ups []Update) TickStats {
	t.Helper()
	if err := e.TrySubmit(ups); err != nil {
		t.Fatal(err)
	}
	return e.Tick()
}

// TestScoringBudgetDefers: a tick stops querying once it has found
// max_pairs_per_tick pairs; the vehicles it did not query are scored by the
// next ticks, so every pair is found in the end and opens once.
func TestScoringBudgetDefers(t *testing.T) {
	cfg := Default()
	cfg.MaxPairsPerTick = 30
	e, _ := newTestEngine(t, cfg, builtinModels())
	t0 := 1_700_000_000.0
	var ups []Update
	for i := range 20 { // 20 drones within 40 m: 190 pairs, all in conflict
		ups = append(ups, Update{ID: []byte(fmt.Sprintf("d%02d", i)), V: drone(float64(2*i), 0, t0)})
	}
	ts := submitStats(t, e, ups)
	if ts.Deferred == 0 || ts.Pairs > 30+19 {
		t.Fatalf("first tick: %+v, want some vehicles deferred and at most budget + one query of pairs", ts)
	}
	total := ts.Pairs
	for range 20 {
		ts = e.Tick()
		total += ts.Pairs
		if ts.Deferred == 0 {
			break
		}
	}
	st := e.Stats()
	if ts.Deferred != 0 || st.OpenRisks != 190 || st.Opened != 190 || st.Deferred == 0 {
		t.Fatalf("after the deferred ticks: stats %+v; want all 190 pairs open, each once", st)
	}
	t.Logf("%d pairs scored for 190 (a vehicle deferred twice re-scores some)", total)
}

// TestDenseSpotBounded: 500 drones reported at one spot in one batch (124,750
// pairs in conflict) open exactly max_open_risks risks and count the rest;
// the tracker's memory follows the cap.
func TestDenseSpotBounded(t *testing.T) {
	cfg := Default()
	cfg.MaxOpenRisks = 1000
	e, log := newTestEngine(t, cfg, builtinModels())
	t0 := 1_700_000_000.0
	ups := make([]Update, 500)
	for i := range ups {
		ups[i] = Update{ID: []byte(fmt.Sprintf("show-%03d", i)), V: drone(float64(i%25), float64(i/25)*0, t0)}
		ups[i].V.Y = float64(i / 25)
	}
	ts := submitStats(t, e, ups)
	st := e.Stats()
	if st.OpenRisks != 1000 || ts.Untracked != 500*499/2-1000 || log.count(EventOpened) != 1000 {
		t.Fatalf("tick %+v stats %+v", ts, st)
	}
	if m := e.Memory(); m.Risks > 2*1024*int(unsafe.Sizeof(openRisk{}))+1000*64 {
		t.Fatalf("tracker holds %d bytes for 1000 risks", m.Risks)
	}
}

// TestGroupsMatchOracle: hotspot traffic where a third of the vehicles fly in
// one of three groups, some changing group or leaving it between ticks; each
// tick is checked against the brute-force oracle: every pair across groups
// (or with a vehicle of no group) whose swept boxes overlap is scored once,
// no pair inside a group is scored or open.
func TestGroupsMatchOracle(t *testing.T) {
	for seed := 1; seed <= 3; seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			cfg := Default()
			cfg.Workers = 2
			cfg.BatchSize = 17
			c := newChecker(t, cfg)
			w := newTraffic("hotspot", 300, uint64(seed), 3000)
			groups := [][]byte{[]byte("show-a"), []byte("show-b"), []byte("convoy")}
			groupOf := func(i, k int) []byte {
				if (i+k/4)%3 != 0 { // every fourth tick a third of them move on
					return nil
				}
				return groups[(i+k)%len(groups)]
			}
			ups := make([]Update, 0, len(w.v))
			for k := 0; k < 8; k++ {
				ups = ups[:0]
				for i := range w.v {
					if k == 0 || w.rng.IntN(3) > 0 {
						w.step(i, 0.5+w.rng.Float64())
						u := w.update(i)
						u.Group = groupOf(i, k)
						ups = append(ups, u)
					}
				}
				c.tick(ups)
			}
			if c.pairsOK == 0 || c.e.ggrid.Len() == 0 {
				t.Fatalf("pairs checked %d, groups in the grid %d: the traffic does not exercise groups", c.pairsOK, c.e.ggrid.Len())
			}
		})
	}
}

// TestGroupLifecycle: pairs inside a group open no risk while an intruder's
// pairs with the members do; a member that leaves the group is a risk to the
// others again; two vehicles with an open risk that join one group resolve
// it with reason "grouped"; groups survive export and import.
func TestGroupLifecycle(t *testing.T) {
	e, log := newTestEngine(t, Default(), builtinModels())
	t0 := 1_700_000_000.0
	var ups []Update
	for i := range 10 {
		ups = append(ups, Update{ID: []byte(fmt.Sprintf("m%d", i)), V: drone(float64(2*i), 0, t0), Group: []byte("show")})
	}
	ups = append(ups, Update{ID: []byte("intruder"), V: drone(8, 0, t0)})
	submit(t, e, ups...)
	for _, ev := range log.evs {
		if ev.VehicleA != "intruder" && ev.VehicleB != "intruder" {
			t.Fatalf("a risk inside the group: %+v", ev)
		}
	}
	if n := log.count(EventOpened); n != 10 {
		t.Fatalf("%d risks opened, want the intruder's 10", n)
	}
	if g, ok := e.GroupOf("m3"); !ok || g != "show" {
		t.Fatalf("GroupOf(m3) = %q, %v", g, ok)
	}
	// m0 leaves the show: it is a risk to the nine others.
	n := len(log.evs)
	submit(t, e, Update{ID: []byte("m0"), V: drone(0, 0, t0+1)})
	if got := len(log.evs) - n; got != 9 {
		t.Fatalf("m0 left the group: %d events, want 9 openings: %+v", got, log.evs[n:])
	}
	// The intruder joins the show: its 10 risks... 9 with members resolve as
	// grouped, the one with m0 stays.
	n = len(log.evs)
	submit(t, e, Update{ID: []byte("intruder"), V: drone(8, 0, t0+1), Group: []byte("show")})
	grouped := 0
	for _, ev := range log.evs[n:] {
		if ev.Type == EventResolved && ev.Reason == ReasonGrouped {
			grouped++
		}
	}
	if grouped != 9 || len(e.Risks()) != 10 {
		t.Fatalf("intruder joined: %d resolved as grouped (want 9), %d open (want 10: m0's)", grouped, len(e.Risks()))
	}
	var buf bytes.Buffer
	if err := e.Export(&buf); err != nil {
		t.Fatal(err)
	}
	f, flog := newTestEngine(t, Default(), builtinModels())
	if err := f.Import(&buf); err != nil {
		t.Fatal(err)
	}
	submit(t, f, Update{ID: []byte("m5"), V: drone(10, 0, t0+2), Group: []byte("show")})
	if g, _ := f.GroupOf("intruder"); g != "show" || flog.count(EventOpened) != 0 {
		t.Fatalf("after import: intruder in %q, events %+v", g, flog.evs)
	}
}

// TestClassTTL: ships (class 1, TTL 600 s) reporting minutes apart stay, with
// their risk open once, while a drone (class 0, TTL 30 s) that stops
// reporting expires and its risk resolves as lost; a ship state older than
// the clock minus the ships' TTL is too old at submit.
func TestClassTTL(t *testing.T) {
	cfg := Default()
	cfg.ClassTTL = []float64{0, 600}
	e, log := newTestEngine(t, cfg, builtinModels())
	t0 := 1_700_000_000.0
	ship := func(id string, x, tt float64) Update {
		v := drone(x, 0, tt)
		v.Class = 1
		return Update{ID: []byte(id), V: v}
	}
	submit(t, e, ship("s1", 0, t0), ship("s2", 22, t0+1), Update{ID: []byte("d"), V: drone(5000, 0, t0)},
		Update{ID: []byte("d2"), V: drone(5010, 0, t0)})
	for k := 1; k <= 6; k++ { // the ships report every 3 minutes, the drones stop
		tt := t0 + float64(k)*180
		submit(t, e, ship("s1", 0, tt), ship("s2", 22, tt+1))
	}
	if n := log.count(EventOpened); n != 2 {
		t.Fatalf("%d risks opened, want 2 (the ships' once, the drones')", n)
	}
	lost := 0
	for _, ev := range log.evs {
		if ev.Type == EventResolved {
			if ev.Reason != ReasonLost || ev.VehicleA != "d" {
				t.Fatalf("resolution %+v: want only the drones' risk, lost", ev)
			}
			lost++
		}
	}
	if lost != 1 || len(e.Risks()) != 1 {
		t.Fatalf("%d lost, %d open: want the drones' risk lost and the ships' open", lost, len(e.Risks()))
	}
	if _, ok := e.Vehicle("d"); ok {
		t.Fatal("the silent drone did not expire")
	}
	v := make([]Verdict, 2)
	if _, err := e.TrySubmitChecked([]Update{ship("s3", 0, t0+1080-601), ship("s4", 0, t0+1080-500)}, v); err != nil || v[0] != VerdictTooOld || v[1] != VerdictAccepted {
		t.Fatalf("ship states 601 and 500 s behind the clock: %v %v", v, err)
	}
}

// TestRunTicksWhenUpdatesWait: Run starts a tick as soon as updates wait
// (here the interval is an hour: the risk arrives long before it).
func TestRunTicksWhenUpdatesWait(t *testing.T) {
	cfg := Default()
	cfg.ProcessingInterval = time.Hour
	e, err := New(cfg, builtinModels())
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan Event, 16)
	e.AddSink(SinkFunc(func(evs []Event) {
		for _, ev := range evs {
			got <- ev
		}
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	defer func() { cancel(); <-done }()
	t0 := 1_700_000_000.0
	for k := range 3 { // again after each tick
		tt := t0 + float64(k)
		x := float64(k) * 10_000 // each round's pair apart from the others
		if err := e.TrySubmit([]Update{{ID: []byte(fmt.Sprintf("a%d", k)), V: drone(x, 0, tt)}, {ID: []byte(fmt.Sprintf("b%d", k)), V: drone(x+30, 0, tt)}}); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-got:
			if ev.Type != EventOpened || ev.VehicleA != fmt.Sprintf("a%d", k) {
				t.Fatalf("event %+v", ev)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("submission %d: no tick within 30 s with processing_interval 1 h", k)
		}
	}
}
