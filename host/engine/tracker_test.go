package engine

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/builtin"
)

type eventLog struct{ evs []Event }

func (l *eventLog) Publish(evs []Event) { l.evs = append(l.evs, evs...) }

func (l *eventLog) count(typ EventType) int {
	n := 0
	for _, ev := range l.evs {
		if ev.Type == typ {
			n++
		}
	}
	return n
}

func drone(x, vx, t float64) abi.Vehicle {
	return abi.Vehicle{X: x, Z: 100, VX: vx, Alt: 100, T: t, HSep: 50, VSep: 25}
}

func newTestEngine(t *testing.T, cfg Config, m Models) (*Engine, *eventLog) {
	t.Helper()
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	e, err := New(cfg, m)
	if err != nil {
		t.Fatal(err)
	}
	log := &eventLog{}
	e.AddSink(log)
	return e, log
}

func submit(t *testing.T, e *Engine, ups ...Update) {
	t.Helper()
	if err := e.TrySubmit(ups); err != nil {
		t.Fatal(err)
	}
	e.Tick()
}

// TestHeadOnLifecycle: two drones meet head on. The risk opens once, updates
// only on material change, and resolves as separated after they pass.
func TestHeadOnLifecycle(t *testing.T) {
	cfg := Default()
	cfg.MaxDistance = 100
	e, log := newTestEngine(t, cfg, builtinModels())
	t0 := 1_700_000_000.0
	for k := 0; k <= 60; k++ {
		tt := t0 + float64(k)
		submit(t, e,
			Update{ID: []byte("a"), V: drone(-600+20*float64(k), 20, tt)},
			Update{ID: []byte("b"), V: drone(600-20*float64(k), -20, tt)})
	}
	if got := log.count(EventOpened); got != 1 {
		t.Fatalf("opened %d times, want 1: %+v", got, log.evs)
	}
	if got := log.count(EventResolved); got != 1 {
		t.Fatalf("resolved %d times, want 1", got)
	}
	up := log.count(EventUpdated)
	if up == 0 || up > 10 {
		t.Fatalf("%d updates over 60 ticks: want a few, only on material change", up)
	}
	first, last := log.evs[0], log.evs[len(log.evs)-1]
	if first.Risk < 0.5 || first.TIn == nil {
		t.Fatalf("opened with risk %.2f and t_in %v, want >= 0.5 with an entry time", first.Risk, first.TIn)
	}
	// They meet at x=0 at t0+30 s.
	if d := first.TCA - (t0 + 30); d < -0.01 || d > 0.01 {
		t.Fatalf("tca %.3f, want %.3f", first.TCA, t0+30)
	}
	if last.Reason != ReasonSeparated || last.RiskID != first.RiskID {
		t.Fatalf("last event %+v, want the same risk resolved as separated", last)
	}
	for i, ev := range log.evs {
		if ev.Seq != i || ev.ID != eventID(first.RiskID, i) {
			t.Fatalf("event %d has seq %d id %s", i, ev.Seq, ev.ID)
		}
		if ev.Model.Name != builtin.ScorerName {
			t.Fatalf("event names model %+v", ev.Model)
		}
	}
	s := e.Stats()
	if s.OpenRisks != 0 || s.Opened != 1 || s.Resolved != 1 {
		t.Fatalf("stats %+v", s)
	}
	var ticks uint64
	for _, n := range s.TickHistogram {
		ticks += n
	}
	if ticks != s.Ticks || s.Candidates == 0 || s.Candidates > s.PairsScored || s.AboveMin == 0 {
		t.Fatalf("tick histogram holds %d of %d ticks; candidates %d, scored %d, above min %d",
			ticks, s.Ticks, s.Candidates, s.PairsScored, s.AboveMin)
	}
}

// TestLostVehicleResolvesRisk: a vehicle that stops reporting expires after
// vehicle_ttl of data time and its risk resolves as lost.
func TestLostVehicleResolvesRisk(t *testing.T) {
	cfg := Default()
	cfg.VehicleTTL = 5
	e, log := newTestEngine(t, cfg, builtinModels())
	t0 := 1_700_000_000.0
	submit(t, e, Update{ID: []byte("a"), V: drone(0, 0, t0)}, Update{ID: []byte("b"), V: drone(30, 0, t0)})
	if log.count(EventOpened) != 1 || log.evs[0].Risk != 1 {
		t.Fatalf("two drones 30 m apart: %+v", log.evs)
	}
	for k := 1; k <= 8; k++ {
		submit(t, e, Update{ID: []byte("a"), V: drone(0, 0, t0+float64(k))})
	}
	last := log.evs[len(log.evs)-1]
	if last.Type != EventResolved || last.Reason != ReasonLost {
		t.Fatalf("last event %+v, want resolved/lost", last)
	}
	if _, ok := e.Vehicle("b"); ok {
		t.Fatal("b still stored after its TTL")
	}
	if _, ok := e.Vehicle("a"); !ok {
		t.Fatal("a expired although it keeps reporting")
	}
}

// TestStaleUpdatesDropped: an update older than the stored state never
// overwrites it, and is counted.
func TestStaleUpdatesDropped(t *testing.T) {
	e, _ := newTestEngine(t, Default(), builtinModels())
	t0 := 1_700_000_000.0
	submit(t, e, Update{ID: []byte("a"), V: drone(0, 1, t0+10)})
	submit(t, e, Update{ID: []byte("a"), V: drone(99, 1, t0+5)}, Update{ID: []byte("a"), V: drone(98, 1, t0+10)})
	v, _ := e.Vehicle("a")
	if v.State.X != 0 || v.State.T != t0+10 {
		t.Fatalf("state %+v overwritten by an older update", v.State)
	}
	if s := e.Stats(); s.Stale != 1 || s.Duplicates != 1 || s.Applied != 1 {
		t.Fatalf("stale %d duplicates %d applied %d, want 1 1 1", s.Stale, s.Duplicates, s.Applied)
	}
	// Within one batch the newest wins whatever the order.
	submit(t, e, Update{ID: []byte("a"), V: drone(7, 1, t0+12)}, Update{ID: []byte("a"), V: drone(5, 1, t0+11)})
	if v, _ := e.Vehicle("a"); v.State.X != 7 {
		t.Fatalf("x = %v, want the newest state's 7", v.State.X)
	}
}

// scriptedScorer answers a fixed risk sequence: it isolates the tracker's
// hysteresis from the geometry.
type scriptedScorer struct {
	risks []float64
	i     int
}

func (s *scriptedScorer) Model() abi.ModelID { return abi.ModelID{Name: "scripted", Version: "1"} }
func (s *scriptedScorer) Score(_ context.Context, _ abi.Params, _ []abi.Vehicle, pairs []abi.Pair, res []abi.Result) error {
	for i := range pairs {
		res[i] = abi.Result{Risk: s.risks[s.i], TCA: 1, DMin: 10, TIn: -1, TOut: -1}
	}
	s.i++
	return nil
}

// TestHysteresisNoFlap: a risk hovering around min_risk_level opens once and
// resolves only when it falls below min_risk_level - hysteresis.
func TestHysteresisNoFlap(t *testing.T) {
	sc := &scriptedScorer{risks: []float64{0.31, 0.28, 0.32, 0.26, 0.30, 0.29, 0.24}}
	cfg := Default()
	cfg.ResolveAfter = 0 // the band alone
	e, log := newTestEngine(t, cfg, Models{Predictor: builtin.Predictor{}, Scorer: sc})
	t0 := 1_700_000_000.0
	for k := range sc.risks {
		tt := t0 + float64(k)
		submit(t, e, Update{ID: []byte("a"), V: drone(0, 0, tt)}, Update{ID: []byte("b"), V: drone(30, 0, tt)})
	}
	if o, r := log.count(EventOpened), log.count(EventResolved); o != 1 || r != 1 {
		t.Fatalf("opened %d resolved %d, want 1 and 1: %+v", o, r, log.evs)
	}
	if last := log.evs[len(log.evs)-1]; last.Type != EventResolved || last.Risk != 0.24 {
		t.Fatalf("resolved at %+v, want at risk 0.24", last)
	}
}

// TestModelNamedAndFallback: a scorer that fails its batch is replaced by the
// fallback for that batch, and the events name the fallback.
func TestModelNamedAndFallback(t *testing.T) {
	m := Models{Predictor: builtin.Predictor{}, Scorer: failingScorer{}, ScorerFallback: []abi.Scorer{builtin.Scorer{}}}
	e, log := newTestEngine(t, Default(), m)
	t0 := 1_700_000_000.0
	submit(t, e, Update{ID: []byte("a"), V: drone(0, 0, t0)}, Update{ID: []byte("b"), V: drone(30, 0, t0)})
	if len(log.evs) != 1 || log.evs[0].Model.Name != builtin.ScorerName {
		t.Fatalf("events %+v, want one opened by the builtin fallback", log.evs)
	}
}

type failingScorer struct{}

func (failingScorer) Model() abi.ModelID { return abi.ModelID{Name: "nan"} }
func (failingScorer) Score(_ context.Context, _ abi.Params, _ []abi.Vehicle, pairs []abi.Pair, res []abi.Result) error {
	for i := range pairs {
		res[i].Risk = 2 // out of range: malformed
	}
	return nil
}

// TestWaitApplied: WaitApplied returns only after the updates accepted before
// it are in the state table.
func TestWaitApplied(t *testing.T) {
	e, _ := newTestEngine(t, Default(), builtinModels())
	if err := e.WaitApplied(context.Background()); err != nil {
		t.Fatal(err) // nothing pending: returns at once
	}
	if err := e.TrySubmit([]Update{{ID: []byte("a"), V: drone(0, 1, 1_700_000_000)}}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.WaitApplied(context.Background()) }()
	select {
	case <-done:
		t.Fatal("WaitApplied returned before a tick applied the update")
	case <-time.After(50 * time.Millisecond):
	}
	e.Tick()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Vehicle("a"); !ok {
		t.Fatal("the update is not in the state table")
	}
}

// TestStalePairKeepsRisk: when one vehicle's state is older than the horizon
// relative to the other's, the pair cannot be assessed; an open risk stays
// open (no flapping) until the stale vehicle reports again.
func TestStalePairKeepsRisk(t *testing.T) {
	cfg := Default()
	cfg.VehicleTTL = 120
	cfg.ResolveAfter = 0
	e, log := newTestEngine(t, cfg, builtinModels())
	t0 := 1_700_000_000.0
	submit(t, e, Update{ID: []byte("a"), V: drone(0, 0, t0)}, Update{ID: []byte("b"), V: drone(30, 0, t0)})
	submit(t, e, Update{ID: []byte("a"), V: drone(0, 0, t0+29)})
	for k := 31; k < 40; k += 2 { // b silent for longer than the 30 s horizon
		submit(t, e, Update{ID: []byte("a"), V: drone(0, 0, t0+float64(k))})
	}
	if n := log.count(EventResolved); n != 0 {
		t.Fatalf("risk resolved while b was merely stale: %+v", log.evs)
	}
	submit(t, e, Update{ID: []byte("b"), V: drone(30, 0, t0+40)})
	if o, r := log.count(EventOpened), log.count(EventResolved); o != 1 || r != 0 {
		t.Fatalf("opened %d resolved %d after b reported again, want 1 and 0", o, r)
	}
	submit(t, e, Update{ID: []byte("b"), V: drone(5000, 0, t0+41)})
	if r := log.count(EventResolved); r != 1 {
		t.Fatalf("b moved 5 km away and the risk did not resolve: %+v", log.evs)
	}
}

// TestResolveAfterHold: a risk that dips below the band for less than
// resolve_after stays open (one episode); one that stays below resolves once
// the hold has passed, not before.
func TestResolveAfterHold(t *testing.T) {
	// One assessment per second: high, 3 s low, high again, then low for good.
	risks := []float64{0.9, 0.1, 0.1, 0.1, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1}
	sc := &scriptedScorer{risks: risks}
	cfg := Default()
	cfg.ResolveAfter = 4
	e, log := newTestEngine(t, cfg, Models{Predictor: builtin.Predictor{}, Scorer: sc})
	t0 := 1_700_000_000.0
	resolvedAt := -1
	for k := range risks {
		tt := t0 + float64(k)
		submit(t, e, Update{ID: []byte("a"), V: drone(0, 0, tt)}, Update{ID: []byte("b"), V: drone(30, 0, tt)})
		if resolvedAt < 0 && log.count(EventResolved) > 0 {
			resolvedAt = k
		}
	}
	if o := log.count(EventOpened); o != 1 {
		t.Fatalf("opened %d times, want one episode across a 3 s dip: %+v", o, log.evs)
	}
	// Low from k=5 on: resolves at the first assessment 4 s later, k=9.
	if resolvedAt != 9 {
		t.Fatalf("resolved at k=%d, want 9 (4 s after the risk fell at k=5)", resolvedAt)
	}
}

// TestCloseDrainsThenRefuses: Close applies what was accepted, then TrySubmit
// and a blocked Submit answer ErrClosed instead of accepting work that would
// never be processed.
func TestCloseDrainsThenRefuses(t *testing.T) {
	cfg := Default()
	cfg.MaxPending = 1
	e, _ := newTestEngine(t, cfg, builtinModels())
	if err := e.TrySubmit([]Update{{ID: []byte("a"), V: drone(0, 1, 1_700_000_000)}}); err != nil {
		t.Fatal(err)
	}
	blocked := make(chan error, 1)
	go func() {
		blocked <- e.Submit(context.Background(), []Update{{ID: []byte("b"), V: drone(0, 1, 1_700_000_000)}})
	}()
	time.Sleep(20 * time.Millisecond)
	e.Close()
	if _, ok := e.Vehicle("a"); !ok {
		t.Fatal("an update accepted before Close was not applied")
	}
	if err := <-blocked; err != ErrClosed && err != nil {
		t.Fatalf("blocked Submit: %v, want ErrClosed (or nil if it got in before Close)", err)
	}
	if err := e.TrySubmit([]Update{{ID: []byte("c"), V: drone(0, 1, 1_700_000_001)}}); err != ErrClosed {
		t.Fatalf("TrySubmit after Close: %v, want ErrClosed", err)
	}
}

// TestRiskIDsDistinctAcrossEpisodes: two episodes of one pair that open at
// the same latest state time (out-of-order reports) get different ids, and
// vehicle_a is the lesser id whatever the arrival order.
func TestRiskIDsDistinctAcrossEpisodes(t *testing.T) {
	if riskID("a", "b", 100, 90) == riskID("a", "b", 100, 95) {
		t.Fatal("episodes opened from different states share a risk id")
	}
	if riskID("a", "b", 100, 90) != riskID("b", "a", 90, 100) {
		t.Fatal("the risk id depends on the argument order")
	}
	e, log := newTestEngine(t, Default(), builtinModels())
	submit(t, e, Update{ID: []byte("zulu"), V: drone(0, 0, 1_700_000_000)}, Update{ID: []byte("alpha"), V: drone(30, 0, 1_700_000_000)})
	if len(log.evs) != 1 || log.evs[0].VehicleA != "alpha" || log.evs[0].VehicleB != "zulu" {
		t.Fatalf("events %+v: want vehicle_a alpha, vehicle_b zulu", log.evs)
	}
}

// TestExplicitZerosHonoured: min_risk_level 0 and update deltas 0 are
// settings, not "unset".
func TestExplicitZerosHonoured(t *testing.T) {
	cfg := Default()
	cfg.MinRisk, cfg.Hysteresis, cfg.UpdateRiskDelta, cfg.UpdateTCADelta, cfg.ResolveAfter = 0, 0, 0, 0, 0
	e, _ := newTestEngine(t, cfg, builtinModels())
	if c := e.Config(); c.MinRisk != 0 || c.UpdateRiskDelta != 0 || c.UpdateTCADelta != 0 || c.ResolveAfter != 0 {
		t.Fatalf("zeros replaced by defaults: %+v", c)
	}
}

// TestExportIncludesAcceptedUpdates: an update acknowledged by TrySubmit is
// in an export taken before the next tick.
func TestExportIncludesAcceptedUpdates(t *testing.T) {
	e, _ := newTestEngine(t, Default(), builtinModels())
	submit(t, e, Update{ID: []byte("a"), V: drone(0, 1, 1_700_000_000)})
	if err := e.TrySubmit([]Update{{ID: []byte("a"), V: drone(5, 1, 1_700_000_001)}, {ID: []byte("b"), V: drone(9, 1, 1_700_000_001)}}); err != nil {
		t.Fatal(err)
	}
	s := e.Snapshot()
	if len(s.Vehicles) != 2 || s.Vehicles[0].State.X != 5 || s.Vehicles[1].ID != "b" {
		t.Fatalf("snapshot %+v: want a at x=5 and b, both only accepted", s.Vehicles)
	}
}

// TestUpdateOlderThanTTLDropped: a state older than the engine clock minus
// vehicle_ttl is dropped and counted, never brought back as a vehicle.
func TestUpdateOlderThanTTLDropped(t *testing.T) {
	cfg := Default()
	cfg.VehicleTTL = 10
	e, _ := newTestEngine(t, cfg, builtinModels())
	t0 := 1_700_000_000.0
	submit(t, e, Update{ID: []byte("a"), V: drone(0, 1, t0+100)})
	submit(t, e, Update{ID: []byte("late"), V: drone(50, 1, t0+50)})
	if _, ok := e.Vehicle("late"); ok {
		t.Fatal("a state 50 s behind the clock (ttl 10 s) became a vehicle")
	}
	if s := e.Stats(); s.Stale != 1 {
		t.Fatalf("stale %d, want 1", s.Stale)
	}
}

// TestVehiclesInIDOrder: Vehicles walks the live vehicles in id order across
// its read chunks and stops when fn says so.
func TestVehiclesInIDOrder(t *testing.T) {
	e, _ := newTestEngine(t, Default(), builtinModels())
	var ups []Update
	for i := 999; i >= 0; i-- {
		ups = append(ups, Update{ID: []byte(fmt.Sprintf("v%04d", i)), V: drone(float64(i)*1000, 0, 1_700_000_000)})
	}
	submit(t, e, ups...)
	var got []string
	e.Vehicles(func(v VehicleState) bool {
		got = append(got, v.ID)
		if v.State.X != 1000*float64(len(got)-1) {
			t.Fatalf("%s has x %v", v.ID, v.State.X)
		}
		return len(got) < 700
	})
	if len(got) != 700 || got[0] != "v0000" || got[699] != "v0699" || !slices.IsSorted(got) {
		t.Fatalf("walked %d vehicles, %v ... %v", len(got), got[:2], got[len(got)-2:])
	}
}

// TestRisksShowCurrentAssessment: Risks and Risk show an open risk's latest
// assessment, not its last event's (a change below update_risk_delta emits
// nothing), and mark it resolving while it waits below the band.
func TestRisksShowCurrentAssessment(t *testing.T) {
	sc := &scriptedScorer{risks: []float64{0.9, 0.85, 0.1}}
	cfg := Default()
	cfg.ResolveAfter = 10
	e, log := newTestEngine(t, cfg, Models{Predictor: builtin.Predictor{}, Scorer: sc})
	t0 := 1_700_000_000.0
	step := func(k int) Risk {
		t.Helper()
		tt := t0 + float64(k)
		submit(t, e, Update{ID: []byte("a"), V: drone(0, 0, tt)}, Update{ID: []byte("b"), V: drone(30, 0, tt)})
		rs := e.Risks()
		if len(rs) != 1 {
			t.Fatalf("step %d: %d open risks, want 1", k, len(rs))
		}
		one, ok := e.Risk(rs[0].ID)
		if !ok || one.Risk != rs[0].Risk || one.Resolving != rs[0].Resolving {
			t.Fatalf("step %d: Risk(%s) = %+v, %v; Risks() has %+v", k, rs[0].ID, one, ok, rs[0])
		}
		return rs[0]
	}
	if r := step(0); r.Risk != 0.9 || r.Resolving {
		t.Fatalf("opened: %+v, want risk 0.9, not resolving", r)
	}
	if r := step(1); r.Risk != 0.85 || r.Resolving || r.Seq != 0 {
		t.Fatalf("after a change below the update delta: %+v, want the current 0.85 at seq 0", r)
	}
	if len(log.evs) != 1 {
		t.Fatalf("events %+v, want only the opening", log.evs)
	}
	if r := step(2); r.Risk != 0.1 || !r.Resolving {
		t.Fatalf("below the band: %+v, want risk 0.1 and resolving", r)
	}
}
