package models

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/collision-detection-platform/distributed-platform/host/engine"
)

// DiffBuckets are the upper bounds of the |risk difference| histogram
// buckets (the last bucket, up to 1, is implicit). A difference of 0 falls in
// the first bucket.
var DiffBuckets = [...]float64{1e-9, 1e-3, 1e-2, 0.05, 0.1, 0.25, 0.5}

const nBuckets = len(DiffBuckets) + 1

// shadowObserver compares the shadow plugin's answers with the active
// model's. Observe runs on the engine's workers, concurrently; it only adds
// to atomic counters, so it allocates nothing and takes no lock.
type shadowObserver struct {
	id      string
	share   float64
	started time.Time

	batches, pairs, errors   atomic.Uint64
	activeNanos, shadowNanos atomic.Uint64
	hist                     [nBuckets]atomic.Uint64
	activeOnly, shadowOnly   atomic.Uint64 // pairs at or above min_risk in one only
	maxDiffBits              atomic.Uint64
	sumDiffMicro             atomic.Uint64 // sum of |diff| in units of 1e-6
}

// Observe implements engine.ShadowObserver.
func (o *shadowObserver) Observe(b *engine.ShadowBatch) {
	o.batches.Add(1)
	o.activeNanos.Add(uint64(b.ActiveDuration))
	o.shadowNanos.Add(uint64(b.ShadowDuration))
	if b.ShadowErr != nil {
		o.errors.Add(1)
		return
	}
	n := len(b.Pairs)
	o.pairs.Add(uint64(n))
	m := b.Params.MinRisk
	var activeOnly, shadowOnly, sum uint64
	maxd := math.Float64frombits(o.maxDiffBits.Load())
	for i := 0; i < n; i++ {
		a, s := b.ActiveResults[i].Risk, b.ShadowResults[i].Risk
		d := math.Abs(a - s)
		k := 0
		for k < len(DiffBuckets) && d > DiffBuckets[k] {
			k++
		}
		o.hist[k].Add(1)
		sum += uint64(d*1e6 + 0.5)
		if a >= m && s < m {
			activeOnly++
		} else if s >= m && a < m {
			shadowOnly++
		}
		if d > maxd {
			maxd = d
		}
	}
	o.activeOnly.Add(activeOnly)
	o.shadowOnly.Add(shadowOnly)
	o.sumDiffMicro.Add(sum)
	for {
		old := o.maxDiffBits.Load()
		if math.Float64frombits(old) >= maxd || o.maxDiffBits.CompareAndSwap(old, math.Float64bits(maxd)) {
			break
		}
	}
}

// ShadowReport is how a shadow plugin compared with the active model.
type ShadowReport struct {
	Share   float64   `json:"share"`   // fraction of batches shadowed
	Started time.Time `json:"started"` // when shadowing began
	Batches uint64    `json:"batches"` // batches compared
	Pairs   uint64    `json:"pairs"`   // pairs compared
	Errors  uint64    `json:"errors"`  // shadow batches that failed (not compared)
	// Histogram counts pairs by |risk difference|: Histogram[i] has the
	// differences in (Buckets[i-1], Buckets[i]]; the last entry those above
	// the last bound (up to 1).
	Buckets   []float64 `json:"buckets"`
	Histogram []uint64  `json:"histogram"`
	MaxDiff   float64   `json:"max_diff"`
	MeanDiff  float64   `json:"mean_diff"`
	// ActiveOnly counts pairs at or above min_risk_level for the active model
	// and below it for the shadow (risks the shadow would miss); ShadowOnly
	// the reverse (risks the shadow would add).
	ActiveOnly uint64 `json:"crossing_active_only"`
	ShadowOnly uint64 `json:"crossing_shadow_only"`
	// NsPerPairActive and NsPerPairShadow are the wall time per pair of the
	// compared batches.
	NsPerPairActive float64 `json:"ns_per_pair_active"`
	NsPerPairShadow float64 `json:"ns_per_pair_shadow"`
}

func (o *shadowObserver) report() *ShadowReport {
	r := &ShadowReport{
		Share: o.share, Started: o.started, Batches: o.batches.Load(), Pairs: o.pairs.Load(),
		Errors: o.errors.Load(), Buckets: DiffBuckets[:], Histogram: make([]uint64, nBuckets),
		MaxDiff: math.Float64frombits(o.maxDiffBits.Load()), ActiveOnly: o.activeOnly.Load(), ShadowOnly: o.shadowOnly.Load(),
	}
	for i := range r.Histogram {
		r.Histogram[i] = o.hist[i].Load()
	}
	if r.Pairs > 0 {
		r.MeanDiff = float64(o.sumDiffMicro.Load()) / 1e6 / float64(r.Pairs)
		// Latencies cover the batches compared (failed ones included, so
		// divide by all pairs seen: close enough, failures are rare).
		r.NsPerPairActive = float64(o.activeNanos.Load()) / float64(r.Pairs)
		r.NsPerPairShadow = float64(o.shadowNanos.Load()) / float64(r.Pairs)
	}
	return r
}

var _ engine.ShadowObserver = (*shadowObserver)(nil)
