package engine

import (
	"context"
	"testing"
	"time"

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
