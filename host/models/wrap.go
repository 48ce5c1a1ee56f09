package models

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/plugins"
)

// timed is what the engine calls for a managed plugin: the plugin itself,
// plus the time spent in its batches and the moment the first batch after an
// activation was answered (the swap latency). A plugin is loaded without an
// internal fallback, so a failed batch comes back as an error and the engine
// walks Models.ScorerFallback, which the manager sets to the last good
// plugin and then the base model.
type timed struct {
	p    *plugins.Plugin
	slow *slowPolicy // nil: no latency budget

	// slowCount counts batches over their latency budget; slowAt holds the
	// times of the latest ones (at most slowKeep), slowLast describes the
	// last one.
	slowCount atomic.Uint64
	slowMu    sync.Mutex
	slowAt    []time.Time
	slowLast  string
	// The rate check's state (m.mu): nanos and records at the start of the
	// current window, and how many windows in a row were over the rate.
	rateNanos, rateRecords uint64
	slowWindows            int

	nanos     atomic.Uint64
	fallbacks atomic.Uint64
	// armedAt is the activation time (UnixNano), firstAt the end of the first
	// batch the plugin answered itself after it; 0 when not armed / not yet.
	armedAt, firstAt atomic.Int64
}

// Model implements abi.Scorer and abi.Predictor.
func (t *timed) Model() abi.ModelID { return t.p.Model() }

// Score implements abi.Scorer.
func (t *timed) Score(ctx context.Context, prm abi.Params, vs []abi.Vehicle, pairs []abi.Pair, res []abi.Result) error {
	_, err := t.ScoreModel(ctx, prm, vs, pairs, res)
	return err
}

// ScoreModel implements engine.ModelScorer.
func (t *timed) ScoreModel(ctx context.Context, prm abi.Params, vs []abi.Vehicle, pairs []abi.Pair, res []abi.Result) (abi.ModelID, error) {
	start := time.Now()
	id, err := t.p.ScoreModel(ctx, prm, vs, pairs, res)
	end := t.done(start, err)
	if err == nil && t.slow != nil && id == t.p.Model() {
		t.checkSlow(end.Sub(start), len(pairs), t.slow.scoreNs, "pairs")
	}
	return id, err
}

// Predict implements abi.Predictor.
func (t *timed) Predict(ctx context.Context, prm abi.Params, vs []abi.Vehicle, boxes []abi.Box, samples []abi.Point) error {
	start := time.Now()
	id, err := t.p.PredictModel(ctx, prm, vs, boxes, samples)
	end := t.done(start, err)
	if err == nil && t.slow != nil && id == t.p.Model() {
		t.checkSlow(end.Sub(start), len(vs), t.slow.predictNs, "vehicles")
	}
	return err
}

// slowPolicy is the latency budget of a batch: Factor times what the base
// model takes for as many records, plus Slack (a guest call's fixed cost).
type slowPolicy struct {
	scoreNs, predictNs float64 // the base model's ns per pair / per vehicle
	factor             float64
	slack              time.Duration
}

func (s *slowPolicy) budget(n int, baseNs float64) time.Duration {
	return s.slack + time.Duration(s.factor*baseNs*float64(n))
}

// calibrate measures the base models' time per pair and per vehicle on a
// synthetic batch (the best of a few runs, so that a busy machine does not
// make the budget lax), for the latency budget of plugins.
func calibrate(base *engine.Models, factor float64, slack time.Duration) *slowPolicy {
	const nv, np = 256, 1024
	r := rand.New(rand.NewPCG(1, 2))
	vs := make([]abi.Vehicle, nv)
	for i := range vs {
		vs[i] = abi.Vehicle{X: r.Float64() * 5000, Y: r.Float64() * 5000, Z: 100 + r.Float64()*100, VX: r.NormFloat64() * 20,
			VY: r.NormFloat64() * 20, Alt: 150, T: 1.7e9, HSep: 50, VSep: 25, Radius: 2}
	}
	pairs := make([]abi.Pair, np)
	for i := range pairs {
		a := r.IntN(nv)
		pairs[i] = abi.Pair{A: uint32(a), B: uint32((a + 1 + r.IntN(nv-1)) % nv)}
	}
	res, boxes := make([]abi.Result, np), make([]abi.Box, nv)
	prm := abi.Params{Horizon: 30, MinRisk: 0.3}
	best := func(f func() error) float64 {
		b := time.Duration(math.MaxInt64)
		for range 5 {
			t0 := time.Now()
			if f() != nil {
				return 0 // no budget for a base model that fails
			}
			b = min(b, time.Since(t0))
		}
		return float64(b)
	}
	ctx := context.Background()
	return &slowPolicy{factor: factor, slack: slack,
		scoreNs:   best(func() error { return base.Scorer.Score(ctx, prm, vs, pairs, res) }) / np,
		predictNs: best(func() error { return base.Predictor.Predict(ctx, prm, vs, boxes, nil) }) / nv,
	}
}

// slowKeep bounds the slow-batch times a plugin keeps.
const slowKeep = 64

// checkSlow counts a batch of n records that took d when that is over its
// budget. Within budget it costs a multiplication and does not allocate.
func (t *timed) checkSlow(d time.Duration, n int, baseNs float64, what string) {
	lim := t.slow.budget(n, baseNs)
	if d <= lim {
		return
	}
	t.slowCount.Add(1)
	now := time.Now()
	t.slowMu.Lock()
	defer t.slowMu.Unlock()
	if len(t.slowAt) == slowKeep {
		copy(t.slowAt, t.slowAt[1:])
		t.slowAt = t.slowAt[:slowKeep-1]
	}
	t.slowAt = append(t.slowAt, now)
	t.slowLast = fmt.Sprintf("%v for %d %s, budget %v (%g x the base model's %.0f ns + %v)",
		d.Round(time.Microsecond), n, what, lim.Round(time.Microsecond), t.slow.factor, baseNs, t.slow.slack)
}

// slowTripped reports whether n batches were over budget within window
// before now, and the last one's description.
func (t *timed) slowTripped(now time.Time, n int, window time.Duration) (bool, string) {
	t.slowMu.Lock()
	defer t.slowMu.Unlock()
	if n <= 0 || len(t.slowAt) < n {
		return false, ""
	}
	return now.Sub(t.slowAt[len(t.slowAt)-n]) <= window, t.slowLast
}

// resetSlow forgets the slow batches (an activation starts afresh).
func (t *timed) resetSlow() {
	t.slowMu.Lock()
	t.slowAt = t.slowAt[:0]
	t.slowMu.Unlock()
	t.rateNanos, t.rateRecords, t.slowWindows = t.nanos.Load(), t.records(), 0
}

func (t *timed) records() uint64 {
	s := t.p.Stats()
	return s.Pairs + s.Vehicles
}

// rateWindowRecords is the fewest records a rate window needs; slowWindows
// in a row over the rate make the plugin too slow.
const (
	rateWindowRecords = 5000
	slowWindowsToTrip = 3
)

// rateCheck closes the current rate window when it holds enough records
// and reports whether slowWindowsToTrip windows in a row were slower than
// factor times the base model per record, with a description. m.mu is held.
func (t *timed) rateCheck(baseNs float64) (bool, string) {
	nanos, recs := t.nanos.Load(), t.records()
	dn, dr := nanos-t.rateNanos, recs-t.rateRecords
	if dr < rateWindowRecords || baseNs <= 0 {
		return false, ""
	}
	t.rateNanos, t.rateRecords = nanos, recs
	per := float64(dn) / float64(dr)
	if per <= t.slow.factor*baseNs {
		t.slowWindows = 0
		return false, ""
	}
	t.slowWindows++
	return t.slowWindows >= slowWindowsToTrip, fmt.Sprintf("%.0f ns per record over the last %d records, over %g x the base model's %.0f ns",
		per, dr, t.slow.factor, baseNs)
}

func (t *timed) done(start time.Time, err error) time.Time {
	end := time.Now()
	if err != nil {
		t.fallbacks.Add(1)
		return end
	}
	t.nanos.Add(uint64(end.Sub(start)))
	if t.armedAt.Load() != 0 && t.firstAt.Load() == 0 {
		t.firstAt.CompareAndSwap(0, end.UnixNano())
	}
	return end
}

// arm starts measuring the swap latency of an activation at now.
func (t *timed) arm(now time.Time) {
	t.firstAt.Store(0)
	t.armedAt.Store(now.UnixNano())
}

// swapLatency is the time from the activation to the end of the first batch
// the plugin answered, 0 while none has.
func (t *timed) swapLatency() time.Duration {
	a, f := t.armedAt.Load(), t.firstAt.Load()
	if a == 0 || f == 0 {
		return 0
	}
	return time.Duration(f - a)
}

// counters returns the live plugin's statistics.
func (t *timed) counters() Counters {
	s := t.p.Stats()
	return Counters{
		Batches: s.Batches, Pairs: s.Pairs, Vehicles: s.Vehicles, Nanos: t.nanos.Load(),
		Failures: s.Failures, FailuresByReason: s.FailuresByReason,
		Fallbacks: t.fallbacks.Load() + s.FallbackBatches, LastFailures: s.LastFailures,
	}
}

// Interface guards.
var (
	_ abi.Scorer          = (*timed)(nil)
	_ abi.Predictor       = (*timed)(nil)
	_ engine.ModelScorer  = (*timed)(nil)
	_ plugins.ModelScorer = (*timed)(nil)
)
