package engine

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/builtin"
	"github.com/collision-detection-platform/distributed-platform/grid"
)

func builtinModels() Models {
	return Models{Predictor: builtin.Predictor{}, Scorer: builtin.Scorer{}}
}

// oracleBox is the swept box computed without the engine: the builtin
// predictor's box, holding the current position, grown by the rule of DESIGN.md.
func oracleBox(t testing.TB, v abi.Vehicle, p abi.Params, maxDist float64) abi.Box {
	var b [1]abi.Box
	if err := (builtin.Predictor{}).Predict(context.Background(), p, []abi.Vehicle{v}, b[:], nil); err != nil {
		t.Fatal(err)
	}
	return unionPoint(b[0], v.X, v.Y, v.Z).Grow(math.Sqrt2*float64(v.Radius) + maxDist/2)
}

// checker runs a world through the engine and checks every tick against the
// brute-force oracle: all pairs of stored states, no grid.
type checker struct {
	t       *testing.T
	e       *Engine
	scored  map[uint64]abi.Result
	open    map[string]bool // risk ids open, from the events
	pairsOK int
	nearOK  int
}

func newChecker(t *testing.T, cfg Config) *checker {
	e, err := New(cfg, builtinModels())
	if err != nil {
		t.Fatal(err)
	}
	c := &checker{t: t, e: e, open: map[string]bool{}}
	e.scoredHook = func(p abi.Pair, r abi.Result) {
		k := pairKey(p.A, p.B)
		if _, dup := c.scored[k]; dup {
			t.Errorf("pair %v scored twice in one tick", p)
		}
		c.scored[k] = r
	}
	e.AddSink(SinkFunc(func(evs []Event) {
		for _, ev := range evs {
			switch ev.Type {
			case EventOpened:
				if c.open[ev.RiskID] {
					t.Errorf("risk %s opened twice", ev.RiskID)
				}
				c.open[ev.RiskID] = true
			case EventUpdated:
				if !c.open[ev.RiskID] {
					t.Errorf("update of risk %s that is not open", ev.RiskID)
				}
			case EventResolved:
				if !c.open[ev.RiskID] {
					t.Errorf("resolution of risk %s that is not open", ev.RiskID)
				}
				delete(c.open, ev.RiskID)
			}
		}
	}))
	return c
}

// tick submits ups, runs one tick and compares it with the oracle.
func (c *checker) tick(ups []Update) {
	t, e := c.t, c.e
	c.scored = map[uint64]abi.Result{}
	if err := e.TrySubmit(ups); err != nil {
		t.Fatal(err)
	}
	e.Tick()

	// The oracle, from the engine's stored states only (what the updates left).
	n := len(e.veh)
	boxes := make([]abi.Box, n)
	live := make([]bool, n)
	for i := 0; i < n; i++ {
		if e.names[i] != "" {
			live[i] = true
			boxes[i] = oracleBox(t, e.veh[i], e.params, e.cfg.MaxDistance)
		}
	}
	dirty := func(i int) bool { return e.stamp[i] == e.tick }
	for i := 0; i < n; i++ {
		if !live[i] {
			continue
		}
		for j := i + 1; j < n; j++ {
			if !live[j] || !(dirty(i) || dirty(j)) {
				continue
			}
			k := pairKey(uint32(i), uint32(j))
			got, ok := c.scored[k]
			if e.sameGroup(uint32(i), uint32(j)) {
				// Pairs inside one group are not risks and are never found.
				if ok {
					t.Fatalf("tick %d: %s/%s of one group scored", e.tick, e.names[i], e.names[j])
				}
				if e.tr.open[k] != 0 {
					t.Fatalf("tick %d: %s/%s of one group have an open risk", e.tick, e.names[i], e.names[j])
				}
				continue
			}
			overlap := boxes[i].Overlaps(boxes[j])
			if overlap && !ok {
				t.Fatalf("tick %d: pair %s/%s has overlapping swept boxes but was not scored",
					e.tick, e.names[i], e.names[j])
			}
			if !ok {
				// Not a candidate: the predicted trajectories must stay farther
				// apart than max_distance over the window.
				if d := sampledMinDistance(e.veh[i], e.veh[j], e.params.Horizon); d <= e.cfg.MaxDistance {
					t.Fatalf("tick %d: %s/%s come within %.1f m (max_distance %.0f) but were not candidates",
						e.tick, e.names[i], e.names[j], d, e.cfg.MaxDistance)
				}
				continue
			}
			want := builtin.ScorePair(&e.veh[i], &e.veh[j], e.params)
			if got != want {
				t.Fatalf("tick %d: %s/%s scored %+v, oracle %+v", e.tick, e.names[i], e.names[j], got, want)
			}
			if !overlap {
				if e.tr.open[k] == 0 && got.Risk >= e.cfg.MinRisk-e.cfg.Hysteresis {
					t.Fatalf("tick %d: %s/%s scored without a candidate box or an open risk", e.tick, e.names[i], e.names[j])
				}
			}
			c.pairsOK++
			// Reported risks equal the oracle's: at or above MinRisk the pair
			// is open with exactly that assessment.
			var r *openRisk
			if ref := e.tr.open[k]; ref != 0 {
				r = e.tr.at(ref)
			}
			if want.Risk >= e.cfg.MinRisk {
				if r == nil || r.cur.risk != want.Risk {
					t.Fatalf("tick %d: %s/%s risk %.3f not open with that risk (%v)", e.tick, e.names[i], e.names[j], want.Risk, r)
				}
				c.nearOK++
			}
			stale := math.Abs(e.veh[i].T-e.veh[j].T) > e.params.Horizon
			if want.Risk < e.cfg.MinRisk-e.cfg.Hysteresis && r != nil && !stale &&
				!(r.cur.flags&aBelow != 0 && r.cur.time-r.belowSince < e.cfg.ResolveAfter) {
				t.Fatalf("tick %d: %s/%s risk %.3f still open past resolve_after", e.tick, e.names[i], e.names[j], want.Risk)
			}
		}
	}
	for k := range c.scored {
		a, b := uint32(k>>32), uint32(k)
		if !(dirty(int(a)) || dirty(int(b))) {
			t.Fatalf("tick %d: pair %s/%s scored although neither vehicle changed", e.tick, e.names[a], e.names[b])
		}
	}
	if len(c.open) != len(e.tr.open) {
		t.Fatalf("tick %d: events leave %d risks open, the tracker has %d", e.tick, len(c.open), len(e.tr.open))
	}
}

// sampledMinDistance is the smallest 3D distance between the two constant-
// velocity trajectories over the window both predictions cover, from the
// closed form of the relative motion: an independent check that the swept
// boxes are wide enough.
func sampledMinDistance(a, b abi.Vehicle, h float64) float64 {
	t0 := math.Max(a.T, b.T)
	t1 := math.Min(a.T, b.T) + h
	if t1 < t0 {
		return math.Inf(1)
	}
	pos := func(v abi.Vehicle, t float64) [3]float64 {
		return [3]float64{v.X + v.VX*(t-v.T), v.Y + v.VY*(t-v.T), v.Z + v.VZ*(t-v.T)}
	}
	pa, pb := pos(a, t0), pos(b, t0)
	d := [3]float64{pb[0] - pa[0], pb[1] - pa[1], pb[2] - pa[2]}
	v := [3]float64{b.VX - a.VX, b.VY - a.VY, b.VZ - a.VZ}
	vv := v[0]*v[0] + v[1]*v[1] + v[2]*v[2]
	t := 0.0
	if vv > 0 {
		t = math.Min(math.Max(-(d[0]*v[0]+d[1]*v[1]+d[2]*v[2])/vv, 0), t1-t0)
	}
	return math.Sqrt(sq(d[0]+v[0]*t) + sq(d[1]+v[1]*t) + sq(d[2]+v[2]*t))
}

func sq(x float64) float64 { return x * x }

// TestEngineMatchesOracle runs every traffic kind over ten seeds through the
// pipeline, with part of the fleet reporting each tick at staggered times, and
// checks each tick against the brute-force oracle.
func TestEngineMatchesOracle(t *testing.T) {
	kinds := []string{"uniform", "hotspot", "fast", "stacked", "borders", "accel"}
	seeds := 10
	n, ticks := 300, 12
	if testing.Short() {
		seeds, ticks = 3, 6
	}
	for _, kind := range kinds {
		for seed := 1; seed <= seeds; seed++ {
			t.Run(fmt.Sprintf("%s/seed%d", kind, seed), func(t *testing.T) {
				cfg := Default()
				cfg.Workers = 2
				cfg.BatchSize = 17 // odd, so batches split unevenly
				cfg.Grid = grid.Config{InitialSize: 40 + float64(seed)*20, MinSize: 10, MaxSize: 1000}
				c := newChecker(t, cfg)
				w := newTraffic(kind, n, uint64(seed), 3000)
				ups := make([]Update, 0, n)
				for i := range w.v {
					ups = append(ups, w.update(i))
				}
				c.tick(ups)
				for k := 0; k < ticks; k++ {
					ups = ups[:0]
					for i := range w.v {
						if w.rng.IntN(3) > 0 { // about two thirds report each tick
							w.step(i, 0.5+w.rng.Float64())
							ups = append(ups, w.update(i))
						}
					}
					c.tick(ups)
				}
				if c.pairsOK == 0 {
					t.Fatal("no pair was ever scored: the traffic does not exercise the grid")
				}
				t.Logf("%d pairs checked, %d at or above min risk, grid %+v", c.pairsOK, c.nearOK, c.e.grid.Stats())
			})
		}
	}
}
