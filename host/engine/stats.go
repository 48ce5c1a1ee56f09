package engine

import (
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/grid"
)

// TickStats describes one tick.
type TickStats struct {
	Updates       int           // updates taken from the queue
	Stale         int           // dropped: older than the stored state, or than the clock minus the class's TTL
	Duplicates    int           // dropped: same time as the stored state
	Expired       int           // vehicles expired (not heard for their class's TTL)
	Predicted     int           // vehicles predicted (each updated vehicle once)
	Candidates    int           // pairs the grid found (swept boxes overlap), each once
	Pairs         int           // pairs scored (grid candidates and open risks)
	AboveMin      int           // pairs scored at or above MinRisk
	PredictErrors int           // predict batches the active model failed
	Untracked     int           // pairs at or above MinRisk not tracked: max_open_risks was reached
	Deferred      int           // updated vehicles not queried: max_pairs_per_tick was reached (next tick)
	Displaced     int           // open risks resolved ("capacity") to make room for higher ones
	Resized       bool          // the grid changed its cell size after this tick
	Duration      time.Duration // wall time of the tick
	// Wall time of each phase: apply the queue to the state table (with
	// expiry), predict and place swept boxes, query the grid and score,
	// track risks, adjust the grid.
	Apply, Predict, Score, Track, Adjust time.Duration
}

type counters struct {
	accepted, applied, stale, duplicates, expired atomic.Uint64
	ticks, pairs, predictErrors, resizes          atomic.Uint64
	predicted, candidates, aboveMin               atomic.Uint64
	untracked, deferred, displaced                atomic.Uint64
	// saturatedSince is the wall time (UnixNano) saturation started, 0 when
	// not saturated; lastSaturated the last tick that dropped work.
	saturatedSince, lastSaturated atomic.Int64
	tickHist                      [len(TickBuckets) + 1]atomic.Uint64
	tickSum                       atomic.Int64
	lastTickNanos                 atomic.Int64
	phaseNanos                    [5]atomic.Int64
	events                        [3]atomic.Uint64
}

func (c *counters) add(ts *TickStats) {
	c.ticks.Add(1)
	c.applied.Add(uint64(ts.Updates - ts.Stale - ts.Duplicates))
	c.stale.Add(uint64(ts.Stale))
	c.duplicates.Add(uint64(ts.Duplicates))
	c.expired.Add(uint64(ts.Expired))
	c.pairs.Add(uint64(ts.Pairs))
	c.predicted.Add(uint64(ts.Predicted))
	c.candidates.Add(uint64(ts.Candidates))
	c.aboveMin.Add(uint64(ts.AboveMin))
	c.untracked.Add(uint64(ts.Untracked))
	c.deferred.Add(uint64(ts.Deferred))
	c.displaced.Add(uint64(ts.Displaced))
	b := len(TickBuckets)
	for i, ub := range TickBuckets {
		if ts.Duration <= ub {
			b = i
			break
		}
	}
	c.tickHist[b].Add(1)
	c.tickSum.Add(int64(ts.Duration))
	c.predictErrors.Add(uint64(ts.PredictErrors))
	if ts.Resized {
		c.resizes.Add(1)
	}
	c.lastTickNanos.Store(int64(ts.Duration))
	for i, d := range [...]time.Duration{ts.Apply, ts.Predict, ts.Score, ts.Track, ts.Adjust} {
		c.phaseNanos[i].Add(int64(d))
	}
}

func eventIndex(t EventType) int {
	switch t {
	case EventOpened:
		return 0
	case EventUpdated:
		return 1
	}
	return 2
}

// TickBuckets are the upper bounds of the tick duration histogram.
var TickBuckets = [...]time.Duration{
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond,
	20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second,
}

// Stats is a snapshot of the engine's counters since start; /system/status,
// health and the Prometheus collector all read it.
type Stats struct {
	Vehicles      int    // live vehicles in the state table at the end of the last tick
	OpenRisks     int    // risks open at the end of the last tick
	Pending       int    // updates accepted, waiting for a tick
	Accepted      uint64 // updates accepted by Submit/TrySubmit
	Applied       uint64 // updates applied to the state table
	Stale         uint64 // updates dropped as older than the stored state
	Duplicates    uint64 // updates dropped as repeating the stored state's time
	Expired       uint64 // vehicles expired
	Ticks         uint64 // ticks run
	Candidates    uint64 // candidate pairs found by the grid
	AboveMin      uint64 // pairs scored at or above MinRisk
	PairsScored   uint64 // pairs scored
	Predicted     uint64 // vehicle states predicted (one per applied update per tick)
	PredictErrors uint64 // predict batches the active predictor failed
	// Untracked counts the pair assessments at or above min_risk_level that
	// opened no risk because collision_detection.max_open_risks was reached
	// (a pair still in conflict is counted again at each re-assessment).
	Untracked uint64
	// Displaced counts the open risks resolved ("capacity") to make room for
	// a higher one.
	Displaced uint64
	// Deferred counts the updated vehicles whose query went to the next tick
	// because compute.max_pairs_per_tick was reached.
	Deferred uint64
	// Saturated is set while the engine drops work to its bounds: some tick
	// within the last Config.SaturationHold left risks untracked or vehicles
	// deferred. SaturatedSince is when it started (zero when not saturated).
	Saturated      bool
	SaturatedSince time.Time
	// MaxOpenRisks and MaxPairsPerTick are the configured bounds.
	MaxOpenRisks, MaxPairsPerTick int
	Opened                        uint64        // risk events "opened"
	Updated                       uint64        // risk events "updated"
	Resolved                      uint64        // risk events "resolved"
	LastTick                      time.Duration // duration of the last tick
	// TickHistogram counts ticks by duration: TickHistogram[i] those at or
	// below TickBuckets[i] (and above the previous bucket), the last one
	// those above every bucket. TickSum is their total duration.
	TickHistogram [len(TickBuckets) + 1]uint64
	TickSum       time.Duration
	// PhaseTotals is the time spent in each tick phase since start: apply,
	// predict, score (grid query and scoring), track, adjust.
	PhaseTotals [5]time.Duration
	// Clock is the newest state time applied, Unix seconds, as of the end of
	// the last tick.
	Clock float64
	// Grid is the broadphase as of the end of the last tick.
	Grid grid.Stats
}

// published holds the figures of the state table and grid as of the end of
// the last tick (or restore), for Stats.
type published struct {
	vehicles, openRisks int
	clock               float64
	grid                grid.Stats
}

// publishStats stores the state figures for Stats; the caller holds mu for
// writing. One small allocation per tick.
func (e *Engine) publishStats() {
	e.pub.Store(&published{
		vehicles:  e.ids.len(),
		openRisks: len(e.tr.open),
		clock:     e.clock,
		grid:      e.grid.Stats(),
	})
}

// Stats returns a snapshot. It takes no lock that a tick holds: the
// counters are atomic and the state figures (Vehicles, OpenRisks, Clock,
// Grid) are those published at the end of the last tick, so that health
// checks, /system/status and /metrics answer at once while a long tick runs.
func (e *Engine) Stats() Stats {
	var s Stats
	if p := e.pub.Load(); p != nil {
		s.Vehicles, s.OpenRisks, s.Clock, s.Grid = p.vehicles, p.openRisks, p.clock, p.grid
	}
	c := &e.stats
	s.Pending = e.Pending()
	s.Accepted = c.accepted.Load()
	s.Applied = c.applied.Load()
	s.Stale = c.stale.Load()
	s.Duplicates = c.duplicates.Load()
	s.Expired = c.expired.Load()
	s.Ticks = c.ticks.Load()
	s.PairsScored = c.pairs.Load()
	s.Predicted = c.predicted.Load()
	s.Candidates = c.candidates.Load()
	s.AboveMin = c.aboveMin.Load()
	s.Untracked = c.untracked.Load()
	s.Deferred = c.deferred.Load()
	s.Displaced = c.displaced.Load()
	if since := c.saturatedSince.Load(); since != 0 {
		s.Saturated, s.SaturatedSince = true, time.Unix(0, since)
	}
	s.MaxOpenRisks, s.MaxPairsPerTick = e.cfg.MaxOpenRisks, e.cfg.MaxPairsPerTick
	for i := range s.TickHistogram {
		s.TickHistogram[i] = c.tickHist[i].Load()
	}
	s.TickSum = time.Duration(c.tickSum.Load())
	s.PredictErrors = c.predictErrors.Load()
	s.Opened = c.events[0].Load()
	s.Updated = c.events[1].Load()
	s.Resolved = c.events[2].Load()
	s.LastTick = time.Duration(c.lastTickNanos.Load())
	for i := range s.PhaseTotals {
		s.PhaseTotals[i] = time.Duration(c.phaseNanos[i].Load())
	}
	return s
}

// Memory is the engine's accounting of the memory its state holds.
type Memory struct {
	// State is the bytes of the state table: vehicle records, names (headers
	// and bytes), dirty stamps, open-risk counts and the id index, at their
	// allocated capacity.
	State int
	// Grid is the broadphase's own estimate (grid.Stats.Bytes).
	Grid int
	// Queue is the bytes held by the ingest queue's buffers (both halves).
	Queue int
	// Risks is the bytes of the open-risk tracker: its record pages and an
	// estimate of its two maps (pair -> record, id -> record).
	Risks int
}

// Memory returns the memory accounting. It walks the names, so it costs
// O(vehicles): for benchmarks and /system/status, not for every tick.
func (e *Engine) Memory() Memory {
	e.mu.RLock()
	defer e.mu.RUnlock()
	const vsize = int(unsafe.Sizeof(abi.Vehicle{}))
	m := Memory{
		State: cap(e.veh)*vsize + cap(e.names)*16 + cap(e.stamp)*4 + cap(e.riskHead)*4 +
			len(e.ids.tab)*4 + cap(e.free)*4 + (cap(e.group)+cap(e.gpos))*4,
		Grid: int(e.grid.Stats().Bytes),
		// Map slots: key and value, one control byte, at most 7/8 full.
		Risks: len(e.tr.pages)<<pageBits*int(unsafe.Sizeof(openRisk{})) + cap(e.tr.free)*4 +
			e.tr.len()*(8+4+1+12+4+1)*8/7,
	}
	for _, n := range e.names {
		m.State += roundAlloc(len(n))
	}
	// A group member's box is its group's (the grid holds the group's union).
	for i := range e.groups {
		g := &e.groups[i]
		m.Grid += cap(g.members)*4 + cap(g.boxes)*int(unsafe.Sizeof(abi.Box{})) + roundAlloc(len(g.name))
	}
	m.Grid += int(e.ggrid.Stats().Bytes)
	const psize = int(unsafe.Sizeof(pendingUpdate{}))
	e.q.mu.Lock()
	m.Queue = (cap(e.q.ups)+cap(e.applied))*psize + cap(e.q.ids) + cap(e.idArena)
	e.q.mu.Unlock()
	return m
}

// roundAlloc is the size class a string of n bytes occupies on the heap.
func roundAlloc(n int) int {
	switch {
	case n == 0:
		return 0
	case n <= 8:
		return 8
	case n <= 16:
		return 16
	case n <= 24:
		return 24
	case n <= 32:
		return 32
	case n <= 48:
		return 48
	}
	return (n + 15) &^ 15
}

// saturation updates the saturated state after a tick.
func (e *Engine) saturation(ts *TickStats) {
	c := &e.stats
	now := time.Now().UnixNano()
	switch {
	case ts.Untracked > 0 || ts.Deferred > 0 || ts.Displaced > 0:
		c.lastSaturated.Store(now)
		if c.saturatedSince.Load() == 0 {
			c.saturatedSince.Store(now)
			if cb := e.cfg.OnSaturation; cb != nil {
				cb(true, e.Stats())
			}
		}
	case c.saturatedSince.Load() != 0 && now-c.lastSaturated.Load() >= int64(e.cfg.SaturationHold):
		c.saturatedSince.Store(0)
		if cb := e.cfg.OnSaturation; cb != nil {
			cb(false, e.Stats())
		}
	}
}
