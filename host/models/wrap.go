package models

import (
	"context"
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
	p *plugins.Plugin

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
	t.done(start, err)
	return id, err
}

// Predict implements abi.Predictor.
func (t *timed) Predict(ctx context.Context, prm abi.Params, vs []abi.Vehicle, boxes []abi.Box, samples []abi.Point) error {
	start := time.Now()
	_, err := t.p.PredictModel(ctx, prm, vs, boxes, samples)
	t.done(start, err)
	return err
}

func (t *timed) done(start time.Time, err error) {
	end := time.Now()
	if err != nil {
		t.fallbacks.Add(1)
		return
	}
	t.nanos.Add(uint64(end.Sub(start)))
	if t.armedAt.Load() != 0 && t.firstAt.Load() == 0 {
		t.firstAt.CompareAndSwap(0, end.UnixNano())
	}
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
