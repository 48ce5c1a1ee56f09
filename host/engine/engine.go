// Package engine is the detection pipeline of cdp: the state table, the
// micro-batch tick (predict -> broadphase -> score -> track), and the risk
// tracker. It is driven by Submit (any goroutine) and Tick or Run (one owner).
//
// A tick takes the updates accepted since the last one, applies them to the
// state table (older or duplicate states are dropped and counted), predicts the
// updated vehicles, moves their swept boxes in the grid, queries the grid for
// the pairs they now form (plus the pairs of their open risks), scores those in
// batches, and feeds the results to the tracker, which emits opened / updated /
// resolved events to the sinks. Prediction and scoring go through abi.Predictor
// and abi.Scorer, so the builtin and the Wasm models are interchangeable.
package engine

import (
	"cmp"
	"context"
	"errors"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/grid"
)

// Update is one normalised state for the vehicle named ID. ID may alias a
// caller's buffer: Submit copies it.
type Update struct {
	ID []byte
	V  abi.Vehicle
	// Group names the vehicle's group (empty: none), and may alias a
	// caller's buffer too. Pairs inside one group are not risks; a vehicle
	// whose update names another group, or none, moves there.
	Group []byte
}

// Models is the set of models a tick uses. The engine reads it once per tick,
// so a swap takes effect atomically between ticks: a tick's batches all run on
// the same models.
type Models struct {
	Predictor abi.Predictor
	Scorer    abi.Scorer
	// PredictorFallback and ScorerFallback are tried in order when the active
	// model fails a batch (the last good model, then the builtin).
	PredictorFallback []abi.Predictor
	ScorerFallback    []abi.Scorer

	// Shadow, when set, scores a share of the live score batches beside the
	// active scorer without affecting risk events; ShadowObserver receives
	// both answers of each such batch, on the worker's goroutine.
	Shadow         abi.Scorer
	ShadowShare    float64 // fraction of batches shadowed, in (0, 1]; default 1
	ShadowObserver ShadowObserver
}

// ShadowBatch is one batch scored by both the active and the shadow scorer.
// The slices are valid only during Observe.
type ShadowBatch struct {
	Params         abi.Params
	Active         abi.ModelID
	Shadow         abi.ModelID
	Pairs          []abi.Pair
	ActiveResults  []abi.Result
	ShadowResults  []abi.Result
	ActiveDuration time.Duration
	ShadowDuration time.Duration
	ShadowErr      error
}

// ShadowObserver compares shadow and active answers (the admin API keeps the
// disagreement statistics). Observe is called concurrently from the workers.
type ShadowObserver interface {
	Observe(b *ShadowBatch)
}

// Engine is the detection pipeline. Create it with New.
type Engine struct {
	cfg    Config
	params abi.Params
	grow   float64 // box growth besides the radius term: MaxDistance / 2

	q queue

	models atomic.Pointer[Models]
	kick   chan struct{} // SetModels asks Run for a tick now

	// tickMu serialises the writers of the state below: Tick and Restore.
	tickMu sync.Mutex
	// mu guards the state below against readers (API queries, export). A
	// tick holds it for writing only while it writes (apply, expire,
	// predict and place; track and adjust), not while it queries the grid
	// and scores, which only read: a query or a status call waits for the
	// short write phases, never for the scoring of a dense tick.
	mu    sync.RWMutex
	ids   idIndex
	names []string
	veh   []abi.Vehicle
	stamp []uint32 // tick number of the last update, for the dirty test
	// riskHead is the first open risk of each slot (a tracker record ref, 0
	// for none): most slots have none, which skips the tracker.
	riskHead []uint32
	// group is each slot's group index + 1 (0: none) and gpos its place in
	// the group's member list; both nil until a first group appears, so
	// that traffic without groups pays nothing for them (see groups.go).
	group, gpos []uint32
	groups      []vgroup
	groupIdx    map[string]uint32
	freeGroups  []uint32
	gdirty      []uint32   // groups whose union box is recomputed after predict
	joined      []uint32   // slots with open risks that joined a group this tick
	ggrid       *grid.Grid // the union box of each group, by group index
	free        []uint32
	grid        *grid.Grid
	tick        uint32
	clock       float64 // newest state time applied (data clock)
	// clockFloor (float64 bits) is the cluster's data clock (AdvanceClock):
	// the next tick's clock is at least it once its updates are applied.
	clockFloor atomic.Uint64
	// clockWall is the wall time at which clock last advanced (see now).
	clockWall     float64
	clockAdvanced bool
	swept         float64 // clock at the last expiry sweep

	tr tracker

	// per-tick scratch, reused
	applied    []pendingUpdate
	idArena    []byte
	dirty      []uint32
	dboxes     []abi.Box // grown swept box of each dirty vehicle, by dirty index
	workers    []worker
	sinks      []Sink
	stateSinks []StateSink
	evBuf      []Event
	interest   []scored
	orderCount []int32 // counting-sort buckets of track

	stats counters
	// pub is what Stats reads without any lock: the state-table figures as
	// of the end of the last tick.
	pub atomic.Pointer[published]

	// phase state of the workers
	next   atomic.Int64
	budget atomic.Int64 // pairs the tick may still find (compute.max_pairs_per_tick)
	carry  []uint32     // slots deferred by the last tick: queried by the next
	// carriedFrom is the index in dirty of the first slot carried over
	// unchanged (the rest of dirty after it are such slots too).
	carriedFrom int
	wg          sync.WaitGroup
	curModels   *Models

	// scoredHook, when set (tests), sees every scored pair of a tick.
	scoredHook func(p abi.Pair, r abi.Result)
}

type pendingUpdate struct {
	idOff, idLen uint32
	gLen         uint32 // the group name follows the id in the arena
	v            abi.Vehicle
}

// scored is a scored pair the tracker must see (64 bytes).
type scored struct {
	pair  abi.Pair
	res   abi.Result
	order uint32 // dirty index of the query that found the pair
	model uint16 // the model that scored the pair's batch (tracker.modelRef)
	fresh bool   // the pair has no open risk: a candidate to open one
}

// worker is one unit of parallel work in a tick, with its own buffers.
type worker struct {
	cands   []uint32
	gcands  []uint32     // groups a query's box overlaps
	pairs   []abi.Pair   // found, not yet scored: at most a batch plus one query's
	porder  []uint32     // dirty index of the query that found each pair
	results []abi.Result // one batch
	// tracked holds this tick's scores of open risks' pairs, and fresh
	// those of other pairs at or above MinRisk (candidates to open a risk);
	// every other score is dropped as soon as it is made. tracked is bounded
	// by the open risks; fresh by max_open_risks: past twice that, the worker
	// keeps only its highest max_open_risks (see keepFresh). So memory
	// follows the configured caps, not the pairs.
	tracked, fresh []scored
	floor          scored // once pruned, fresh scores ranking below it are dropped (keepFresh)
	pruned         bool
	untracked      int      // fresh scores dropped this tick
	deferred       []uint32 // dirty slots not queried: the tick's scoring budget ran out
	lastModel      abi.ModelID
	lastModelRef   uint16
	haveModel      bool
	hooked         []scored // every scored pair, only for scoredHook (tests)
	npairs         int      // pairs scored this tick
	above          int      // of which at or above MinRisk
	ncands         int      // grid candidates this tick
	// shadow scoring
	sresults  []abi.Result
	shadowAcc float64
	vbuf      []abi.Vehicle
	bbuf      []abi.Box
	err       error
}

// New returns an engine with the builtin-shaped models m (both must be set).
func New(cfg Config, m Models) (*Engine, error) {
	cfg.applyDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if m.Predictor == nil || m.Scorer == nil {
		return nil, errors.New("engine: a predictor and a scorer are required")
	}
	g, err := grid.New(cfg.Grid)
	if err != nil {
		return nil, err
	}
	gg, err := grid.New(cfg.Grid)
	if err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:    cfg,
		params: abi.Params{Horizon: cfg.Horizon, MinRisk: cfg.MinRisk},
		grow:   cfg.MaxDistance / 2,
		grid:   g,
		ggrid:  gg,
	}
	e.groupIdx = make(map[string]uint32)
	e.kick = make(chan struct{}, 1)
	e.q.max = cfg.MaxPending
	e.q.maxDelay = cfg.MaxQueueDelay
	e.q.space = make(chan struct{})
	e.q.ready = make(chan struct{}, 1)
	e.tr.init(&cfg)
	e.ids.init()
	n := cfg.Workers
	if p := runtime.GOMAXPROCS(0); n > p {
		n = p
	}
	e.workers = make([]worker, n)
	e.SetModels(m)
	e.publishStats()
	return e, nil
}

// SetModels swaps the models; the next tick uses them, and Run starts that
// tick at once rather than at the next interval, so that a swap takes effect
// within a tick's compute time.
func (e *Engine) SetModels(m Models) {
	mm := m
	e.models.Store(&mm)
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// Models returns the models in use.
func (e *Engine) Models() Models { return *e.models.Load() }

// AddSink registers s for every later tick's events. Not safe concurrently with Tick.
func (e *Engine) AddSink(s Sink) { e.sinks = append(e.sinks, s) }

// StateSink receives the state of every vehicle a tick updated (the newest
// of its updates in the tick), on the engine's goroutine while the tick holds
// the state table: it must be quick and must not keep v.
type StateSink func(id string, v *abi.Vehicle)

// AddStateSink registers fn for the applied states; call it before Run.
func (e *Engine) AddStateSink(fn StateSink) { e.stateSinks = append(e.stateSinks, fn) }

// Params returns the parameters every model call receives.
func (e *Engine) Params() abi.Params { return e.params }

// Config returns the resolved configuration.
func (e *Engine) Config() Config { return e.cfg }

// ---------------------------------------------------------------- ingest

// queue holds accepted updates until the next tick. IDs are copied into one
// arena so that accepting a batch allocates nothing in steady state.
type queue struct {
	mu    sync.Mutex
	ups   []pendingUpdate
	ids   []byte
	max   int
	space chan struct{} // closed when a tick drains the queue and someone waits
	// ready holds a token when updates arrived in an empty queue: Run starts
	// a tick at once when the previous one is done (see Run).
	ready  chan struct{}
	closed bool // set by Close: nothing more is accepted
	// waiting counts Submit calls blocked on space; the tick replaces the
	// channel only for them, so that a tick allocates nothing otherwise.
	waiting int
	// since is when the oldest pending update was queued (zero when empty);
	// maxDelay is Config.MaxQueueDelay.
	since    time.Time
	maxDelay time.Duration
	// gen counts swaps; applied is the last generation applied to the state
	// table. WaitApplied waits on appliedCh, replaced only when it has waiters.
	gen, applied  uint64
	appliedCh     chan struct{}
	appliedWaiter int
}

// WaitApplied returns once every update accepted before the call has been
// applied to the state table (or dropped as stale), or when ctx is done. The
// Kafka consumer commits offsets after it, so a restart never skips a record.
func (e *Engine) WaitApplied(ctx context.Context) error {
	q := &e.q
	q.mu.Lock()
	target := q.gen
	if len(q.ups) > 0 {
		target++
	}
	for q.applied < target {
		if q.appliedCh == nil {
			q.appliedCh = make(chan struct{})
		}
		ch := q.appliedCh
		q.appliedWaiter++
		q.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		q.mu.Lock()
	}
	q.mu.Unlock()
	return nil
}

// markApplied records that generation gen is in the state table.
func (e *Engine) markApplied(gen uint64) {
	q := &e.q
	q.mu.Lock()
	q.applied = gen
	if q.appliedWaiter > 0 {
		close(q.appliedCh)
		q.appliedCh = nil
		q.appliedWaiter = 0
	}
	q.mu.Unlock()
}

// ErrQueueFull is returned by TrySubmit when accepting the batch would exceed
// the pending bound; nothing of the batch was accepted.
var ErrQueueFull = errors.New("engine: ingest queue full")

// ErrClosed is returned by TrySubmit and Submit once Run has stopped: the
// engine drained what it had accepted and takes nothing more.
var ErrClosed = errors.New("engine: closed")

// TrySubmit accepts the whole batch or, when the queue cannot hold it, none of
// it (ErrQueueFull). Accepted updates are applied by the next tick.
func (e *Engine) TrySubmit(ups []Update) error {
	return e.enqueue(ups, nil, len(ups))
}

// enqueue queues the n updates of ups whose verdict is VerdictAccepted (all
// of them when verdicts is nil), all or none.
func (e *Engine) enqueue(ups []Update, verdicts []Verdict, n int) error {
	q := &e.q
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	if q.full(n) {
		q.mu.Unlock()
		return ErrQueueFull
	}
	wake := len(q.ups) == 0 && n > 0
	if len(q.ups) == 0 && q.maxDelay > 0 {
		q.since = time.Now()
	}
	for i := range ups {
		if verdicts != nil && verdicts[i] != VerdictAccepted {
			continue
		}
		u := &ups[i]
		q.ups = append(q.ups, pendingUpdate{idOff: uint32(len(q.ids)), idLen: uint32(len(u.ID)), gLen: uint32(len(u.Group)), v: u.V})
		q.ids = append(q.ids, u.ID...)
		q.ids = append(q.ids, u.Group...)
	}
	q.mu.Unlock()
	e.stats.accepted.Add(uint64(n))
	if wake {
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
	return nil
}

// full reports whether n more updates must wait: the queue would exceed
// its bound, or its oldest update has waited longer than maxDelay (ticks
// are behind). An empty queue always takes a batch. q.mu is held.
func (q *queue) full(n int) bool {
	if len(q.ups) == 0 {
		return false
	}
	return len(q.ups)+n > q.max || q.maxDelay > 0 && time.Since(q.since) > q.maxDelay
}

// Submit accepts the batch, waiting for room while the queue is full, until
// ctx is done. It is the backpressure path of the Kafka consumer and replay.
func (e *Engine) Submit(ctx context.Context, ups []Update) error {
	for {
		err := e.TrySubmit(ups)
		if err != ErrQueueFull {
			return err
		}
		e.q.mu.Lock()
		if !e.q.full(len(ups)) {
			// A tick drained the queue between TrySubmit and here: retry
			// rather than wait for a wake-up that was already given.
			e.q.mu.Unlock()
			continue
		}
		ch := e.q.space
		e.q.waiting++
		e.q.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Pending returns the number of accepted updates waiting for a tick.
func (e *Engine) Pending() int {
	e.q.mu.Lock()
	defer e.q.mu.Unlock()
	return len(e.q.ups)
}

// swap hands the pending updates to the tick and gives the queue the tick's
// previous (drained) buffers back, so that neither side allocates.
func (e *Engine) swap(buf []pendingUpdate, ids []byte) ([]pendingUpdate, []byte, uint64) {
	q := &e.q
	q.mu.Lock()
	ups, qids := q.ups, q.ids
	if len(ups) > 0 {
		q.gen++
	}
	gen := q.gen
	q.ups, q.ids = buf[:0], ids[:0]
	if len(ups) > 0 && q.waiting > 0 {
		close(q.space)
		q.space = make(chan struct{})
		q.waiting = 0
	}
	q.mu.Unlock()
	return ups, qids, gen
}

// ---------------------------------------------------------------- tick

// Run ticks until ctx is done, then drains what was accepted with a last
// tick. A tick starts as soon as updates wait and the previous tick is done,
// so that at light load an update is scored within a tick's compute time
// rather than after up to ProcessingInterval; under load the updates that
// arrive during a tick make the next one's batch, so batching grows with the
// load by itself. ProcessingInterval is then the longest the engine goes
// without a tick (expiry and the wall clock advance on it with no traffic).
func (e *Engine) Run(ctx context.Context) error {
	t := time.NewTicker(e.cfg.ProcessingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			e.Close()
			return nil
		case <-t.C:
			e.Tick()
		case <-e.kick:
			e.Tick()
		case <-e.q.ready:
			e.Tick()
		}
	}
}

// Close stops accepting updates (TrySubmit and Submit answer ErrClosed from
// then on, and blocked Submit calls return it) and applies everything
// accepted before with a last tick. The goroutine that calls Tick calls it.
func (e *Engine) Close() {
	q := &e.q
	q.mu.Lock()
	q.closed = true
	if q.waiting > 0 {
		close(q.space)
		q.space = make(chan struct{})
		q.waiting = 0
	}
	q.mu.Unlock()
	e.Tick()
}

// Tick runs one micro-batch. Only one goroutine may call it at a time.
func (e *Engine) Tick() TickStats {
	start := time.Now()
	models := e.models.Load()
	e.tickMu.Lock()
	defer e.tickMu.Unlock()
	e.mu.Lock()

	ups, ids, gen := e.swap(e.applied, e.idArena)
	e.applied, e.idArena = ups, ids
	e.tick++
	e.dirty = e.dirty[:0]
	var ts TickStats
	ts.Updates = len(ups)

	// Apply: the newest state per vehicle wins; older or equal times are
	// dropped, and so is a state already older than the clock minus
	// vehicle_ttl (it would expire at once: a Kafka record read again after a
	// restart must not bring back a vehicle that has gone).
	now0 := e.now()
	for i := range ups {
		u := &ups[i]
		if u.v.T < now0-e.ttl(u.v.Class) {
			ts.Stale++
			continue
		}
		id := ids[u.idOff : u.idOff+u.idLen]
		slot, ok := e.ids.find(e.names, id)
		if !ok {
			slot = e.alloc(string(id))
		} else if u.v.T <= e.veh[slot].T {
			if u.v.T == e.veh[slot].T {
				ts.Duplicates++
			} else {
				ts.Stale++
			}
			continue
		}
		u.v.Key = uint64(slot)
		e.veh[slot] = u.v
		if u.gLen != 0 || e.group != nil {
			if e.setGroup(slot, ids[u.idOff+u.idLen:u.idOff+u.idLen+u.gLen]) && u.gLen != 0 && e.riskHead[slot] != 0 {
				e.joined = append(e.joined, slot)
			}
		}
		if u.v.T > e.clock {
			e.clock = u.v.T
			e.clockAdvanced = true
		}
		if e.stamp[slot] != e.tick {
			e.stamp[slot] = e.tick
			e.dirty = append(e.dirty, slot)
		}
	}
	if f := math.Float64frombits(e.clockFloor.Load()); f > e.clock {
		e.clock = f
		e.clockAdvanced = true
	}
	// Vehicles the last tick deferred (its scoring budget ran out) are
	// queried now, before the new ones would be if this tick runs out too.
	e.carriedFrom = len(e.dirty)
	for _, slot := range e.carry {
		if e.names[slot] != "" && e.stamp[slot] != e.tick {
			e.stamp[slot] = e.tick
			e.dirty = append(e.dirty, slot)
		}
	}
	e.carry = e.carry[:0]
	e.grid.Grow(len(e.veh))
	e.markApplied(gen)
	for _, fn := range e.stateSinks {
		for _, slot := range e.dirty {
			fn(e.names[slot], &e.veh[slot])
		}
	}

	var evs []Event
	evs = e.evBuf[:0]
	for _, slot := range e.joined {
		evs = e.tr.resolveGrouped(e, slot, evs)
	}
	e.joined = e.joined[:0]
	// Expire vehicles not heard for their class's TTL, checked in the first tick of
	// each second of clock: on whole seconds rather than a second after the
	// last check, so that an engine rebuilt by replaying from any point (a
	// compute node taking partitions over) expires on the same ticks.
	now := e.now()
	if math.Floor(now) > math.Floor(e.swept) {
		e.swept = now
		evs = e.expire(now, evs, &ts)
	}

	t1 := time.Now()
	ts.Apply = t1.Sub(start)
	ts.Predicted = len(e.dirty)
	if len(e.dirty) > 0 {
		e.predictAndPlace(models, &ts)
		t2 := time.Now()
		ts.Predict = t2.Sub(t1)
		// Querying and scoring only read the state table, the grid and the
		// tracker: readers may run beside them (tickMu keeps other writers out).
		e.mu.Unlock()
		e.queryAndScore(models, &ts)
		e.mu.Lock()
		t3 := time.Now()
		ts.Score = t3.Sub(t2)
		evs = e.track(evs, &ts)
		t1 = time.Now()
		ts.Track = t1.Sub(t3)
	}
	if e.grid.Adjust() {
		ts.Resized = true
	}
	e.ggrid.Adjust()
	e.publishStats()
	e.mu.Unlock()
	ts.Adjust = time.Since(t1)
	ts.Duration = time.Since(start)
	e.stats.add(&ts)
	e.saturation(&ts)
	e.publish(evs)
	clear(evs) // let the events' strings go
	e.evBuf = shrink(evs, len(evs))
	e.shrinkScratch()
	return ts
}

// shrinkScratch empties the tick's scratch buffers, dropping those a burst
// grew far past this tick's use (see shrink).
func (e *Engine) shrinkScratch() {
	for w := range e.workers {
		wk := &e.workers[w]
		wk.tracked, wk.fresh = shrink(wk.tracked, len(wk.tracked)), shrink(wk.fresh, len(wk.fresh))
		wk.pairs, wk.porder = shrink(wk.pairs, len(wk.pairs)), shrink(wk.porder, len(wk.porder))
	}
	e.interest = shrink(e.interest, len(e.interest))
	e.tr.fresh, e.tr.rejected = shrink(e.tr.fresh, len(e.tr.fresh)), shrink(e.tr.rejected, len(e.tr.rejected))
}

// shrink empties a scratch buffer for the next tick, or drops it when a burst
// grew it far past what the last tick used, so that memory recovers by
// itself once dense traffic thins.
func shrink[T any](s []T, used int) []T {
	if cap(s) > 1<<12 && used < cap(s)/4 {
		return nil
	}
	return s[:0]
}

func (e *Engine) publish(evs []Event) {
	if len(evs) == 0 {
		return
	}
	wall := float64(time.Now().UnixNano()) / 1e9
	for i := range evs {
		evs[i].Emitted = wall
		e.stats.events[eventIndex(evs[i].Type)].Add(1)
	}
	for _, s := range e.sinks {
		s.Publish(evs)
	}
}

// now is the engine clock: the newest state time applied, running at wall
// speed since it last advanced when the engine has a wall clock (Config.Now).
func (e *Engine) now() float64 {
	if e.cfg.Now == nil {
		return e.clock
	}
	wall := e.cfg.Now()
	if e.clockAdvanced || e.clockWall == 0 {
		e.clockWall, e.clockAdvanced = wall, false
	}
	return e.clock + (wall - e.clockWall)
}

// peekNow is now without moving the wall reference: readers holding the read
// lock use it.
func (e *Engine) peekNow() float64 {
	if e.cfg.Now == nil || e.clockAdvanced || e.clockWall == 0 {
		return e.clock
	}
	return e.clock + (e.cfg.Now() - e.clockWall)
}

// Clock returns the engine clock, Unix seconds (see Config.Now).
func (e *Engine) Clock() float64 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.peekNow()
}

func (e *Engine) alloc(name string) uint32 {
	var slot uint32
	if n := len(e.free); n > 0 {
		slot = e.free[n-1]
		e.free = e.free[:n-1]
		e.veh[slot] = abi.Vehicle{T: math.Inf(-1)}
		e.names[slot] = name
		e.riskHead[slot] = 0
	} else {
		slot = uint32(len(e.veh))
		if len(e.veh) == cap(e.veh) {
			e.reserve(len(e.veh) + max(1024, len(e.veh)/16))
		}
		e.veh = append(e.veh, abi.Vehicle{T: math.Inf(-1)})
		e.names = append(e.names, name)
		e.stamp = append(e.stamp, 0)
		e.riskHead = append(e.riskHead, 0)
	}
	e.ids.insert(e.names, slot)
	return slot
}

// reserve grows the per-slot tables to exactly capacity n. The tables grow by
// a sixteenth at a time, with exact allocations, rather than by append's
// quarter: at a million vehicles the difference is 30 MB of capacity that no
// vehicle uses (the 300-bytes-per-vehicle budget).
func (e *Engine) reserve(n int) {
	e.veh = growExact(e.veh, n)
	e.names = growExact(e.names, n)
	e.stamp = growExact(e.stamp, n)
	e.riskHead = growExact(e.riskHead, n)
	if e.group != nil {
		e.group = growExact(e.group, n)[:n]
		e.gpos = growExact(e.gpos, n)[:n]
	}
}

func growExact[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s
	}
	t := make([]T, len(s), n)
	copy(t, s)
	return t
}

// ttl is the vehicle TTL of a class, seconds (Config.ClassTTL).
func (e *Engine) ttl(class uint32) float64 {
	if int(class) < len(e.cfg.ClassTTL) && e.cfg.ClassTTL[class] > 0 {
		return e.cfg.ClassTTL[class]
	}
	return e.cfg.VehicleTTL
}

func (e *Engine) expire(now float64, evs []Event, ts *TickStats) []Event {
	for slot := range e.veh {
		name := e.names[slot]
		if name == "" || e.veh[slot].T >= now-e.ttl(e.veh[slot].Class) || e.stamp[slot] == e.tick {
			continue
		}
		if e.riskHead[slot] != 0 {
			evs = e.tr.resolveVehicle(e, uint32(slot), ReasonLost, evs)
		}
		e.release(uint32(slot))
		ts.Expired++
	}
	return evs
}

// Tick phases run by the workers.
const (
	phasePredict = iota
	phaseQuery
)

// parallel runs the phase on every worker and waits. Workers take chunks of
// the dirty list from e.next. The phase state lives in the engine (curModels,
// next) rather than in a closure, so that starting a phase allocates nothing
// per update (a `go` statement costs one small allocation per worker per
// phase, whatever the number of updates).
func (e *Engine) parallel(phase int) {
	e.next.Store(0)
	if len(e.workers) > 1 {
		e.wg.Add(len(e.workers) - 1)
		for w := 1; w < len(e.workers); w++ {
			go e.phaseWorker(phase, w)
		}
	}
	e.runPhase(phase, 0)
	e.wg.Wait()
}

func (e *Engine) phaseWorker(phase, w int) {
	defer e.wg.Done()
	e.runPhase(phase, w)
}

func (e *Engine) runPhase(phase, w int) {
	switch phase {
	case phasePredict:
		e.predictWorker(w)
	case phaseQuery:
		e.queryWorker(w)
	}
}

// predictAndPlace predicts every dirty vehicle and moves its grown swept box in
// the grid. Workers take contiguous chunks of BatchSize vehicles.
func (e *Engine) predictAndPlace(m *Models, ts *TickStats) {
	e.curModels = m
	e.dboxes = growBox(e.dboxes, len(e.dirty))
	e.parallel(phasePredict)
	if e.group != nil {
		for _, slot := range e.dirty {
			if g := e.group[slot]; g != 0 {
				e.markGroup(g - 1)
			}
		}
	}
	e.placeGroups()
	for w := range e.workers {
		if err := e.workers[w].err; err != nil {
			ts.PredictErrors++
			e.workers[w].err = nil
		}
	}
}

func (e *Engine) predictWorker(w int) {
	wk := &e.workers[w]
	bs := e.cfg.BatchSize
	for {
		lo := int(e.next.Add(int64(bs))) - bs
		if lo >= len(e.dirty) {
			return
		}
		hi := min(lo+bs, len(e.dirty))
		n := hi - lo
		wk.vbuf = growVeh(wk.vbuf, n)
		wk.bbuf = growBox(wk.bbuf, n)
		for i, slot := range e.dirty[lo:hi] {
			wk.vbuf[i] = e.veh[slot]
		}
		if err := predict(e.curModels, e.params, wk.vbuf[:n], wk.bbuf[:n]); err != nil {
			wk.err = err
		}
		for i, slot := range e.dirty[lo:hi] {
			b := e.sweptBox(&wk.vbuf[i], wk.bbuf[i])
			e.dboxes[lo+i] = b
			if g := e.groupOf(slot); g != 0 {
				e.groups[g-1].boxes[e.gpos[slot]] = b
			} else {
				e.grid.Set(slot, grid.Box(b))
			}
		}
	}
}

// predict runs the active predictor, then its fallbacks, on one batch.
func predict(m *Models, p abi.Params, vs []abi.Vehicle, bs []abi.Box) error {
	err := m.Predictor.Predict(context.Background(), p, vs, bs, nil)
	if err == nil && validBoxes(vs, bs) {
		return nil
	}
	for _, f := range m.PredictorFallback {
		if f.Predict(context.Background(), p, vs, bs, nil) == nil && validBoxes(vs, bs) {
			break
		}
	}
	if err == nil {
		err = errors.New("engine: predictor returned a malformed box")
	}
	return err
}

func validBoxes(vs []abi.Vehicle, bs []abi.Box) bool {
	for i := range bs {
		b := &bs[i]
		if !(b.MinX <= b.MaxX && b.MinY <= b.MaxY && b.MinZ <= b.MaxZ) ||
			math.IsInf(b.MaxX-b.MinX+b.MaxY-b.MinY+b.MaxZ-b.MinZ, 0) {
			return false
		}
	}
	return true
}

// sweptBox grows a predicted box into the box the grid holds: it must hold the
// current position whatever the model said, and reach max_distance/2 plus the
// hard-body radius (sqrt2 of it: the radius widens both the horizontal and the
// vertical zone) beyond the trajectory.
func (e *Engine) sweptBox(v *abi.Vehicle, b abi.Box) abi.Box {
	b = unionPoint(b, v.X, v.Y, v.Z)
	return b.Grow(math.Sqrt2*float64(v.Radius) + e.grow)
}

func unionPoint(b abi.Box, x, y, z float64) abi.Box {
	if x < b.MinX {
		b.MinX = x
	}
	if y < b.MinY {
		b.MinY = y
	}
	if z < b.MinZ {
		b.MinZ = z
	}
	if x > b.MaxX {
		b.MaxX = x
	}
	if y > b.MaxY {
		b.MaxY = y
	}
	if z > b.MaxZ {
		b.MaxZ = z
	}
	return b
}

// queryAndScore finds the pairs of the dirty vehicles and scores them. A pair
// of two dirty vehicles is taken by the lower slot only, so it is scored once.
// Once the tick has found compute.max_pairs_per_tick pairs, the dirty
// vehicles not yet queried are deferred to the next tick (ts.Deferred).
func (e *Engine) queryAndScore(m *Models, ts *TickStats) {
	e.curModels = m
	for w := range e.workers {
		wk := &e.workers[w]
		wk.pairs, wk.porder, wk.hooked = wk.pairs[:0], wk.porder[:0], wk.hooked[:0]
		wk.tracked, wk.fresh, wk.deferred = wk.tracked[:0], wk.fresh[:0], wk.deferred[:0]
		wk.npairs, wk.above, wk.ncands, wk.untracked, wk.pruned = 0, 0, 0, 0, false
	}
	e.budget.Store(int64(e.cfg.MaxPairsPerTick))
	e.parallel(phaseQuery)
	e.carry = e.carry[:0]
	for w := range e.workers {
		wk := &e.workers[w]
		ts.Pairs += wk.npairs
		ts.AboveMin += wk.above
		ts.Candidates += wk.ncands
		ts.Untracked += wk.untracked
		e.carry = append(e.carry, wk.deferred...)
	}
	// Deferred slots go to the next tick in slot order, whatever worker
	// found the budget spent.
	slices.Sort(e.carry)
	ts.Deferred = len(e.carry)
}

func (e *Engine) queryWorker(w int) {
	const chunk = 64
	wk := &e.workers[w]
	bs := e.cfg.BatchSize
	for {
		lo := int(e.next.Add(chunk)) - chunk
		if lo >= len(e.dirty) {
			break
		}
		hi := min(lo+chunk, len(e.dirty))
		for di, s := range e.dirty[lo:hi] {
			if e.budget.Load() <= 0 {
				wk.deferred = append(wk.deferred, s)
				continue
			}
			before := len(wk.pairs)
			wk.cands = e.grid.QueryAppend(wk.cands[:0], grid.Box(e.dboxes[lo+di]), s)
			e.appendGroupCands(wk, e.dboxes[lo+di], e.groupOf(s))
			// A vehicle carried over unchanged from the last tick skips the
			// lower partners that tick queried: they reported the pair then.
			carried := lo+di >= e.carriedFrom
			for _, c := range wk.cands {
				if c < s && (e.stamp[c] == e.tick || carried && e.stamp[c] == e.tick-1) {
					continue // the lower slot reports it
				}
				wk.pairs = append(wk.pairs, orderedPair(s, c))
				wk.ncands++
			}
			if e.riskHead[s] != 0 {
				wk.pairs = e.tr.appendOpenPairs(e, s, e.dboxes[lo+di], carried, wk.pairs)
			}
			for range len(wk.pairs) - before {
				wk.porder = append(wk.porder, uint32(lo+di))
			}
			e.budget.Add(-int64(len(wk.pairs) - before))
			if len(wk.pairs) >= bs {
				e.scorePairs(wk, false)
			}
		}
	}
	e.scorePairs(wk, true)
}

// scorePairs scores the worker's found pairs in batches of BatchSize (the
// last, short one only when final), keeps what the tracker needs, and moves
// the unscored rest to the front.
func (e *Engine) scorePairs(wk *worker, final bool) {
	bs := e.cfg.BatchSize
	m := e.curModels
	wk.results = growRes(wk.results, bs)
	n := len(wk.pairs)
	lo := 0
	for ; lo < n && (final || lo+bs <= n); lo += bs {
		hi := min(lo+bs, n)
		start := time.Now()
		res := wk.results[:hi-lo]
		model := score(m, e.params, e.veh, wk.pairs[lo:hi], res)
		if m.Shadow != nil && m.ShadowObserver != nil && wk.shadowPick(m.ShadowShare) {
			e.shadow(wk, m, model, wk.pairs[lo:hi], res, time.Since(start))
		}
		if !wk.haveModel || model != wk.lastModel {
			wk.lastModel, wk.lastModelRef, wk.haveModel = model, e.tr.modelRef(model), true
		}
		for i := range res {
			p, r := wk.pairs[lo+i], &res[i]
			above := r.Risk >= e.cfg.MinRisk
			if above {
				wk.above++
			}
			// Only the pairs of open risks and the new ones at or above
			// MinRisk go to the tracker. A pair of two vehicles that each
			// have some open risk is looked up: that they have one
			// together is rare in a hotspot, and keeping the pair anyway
			// was most of a dense tick's memory.
			open := e.riskHead[p.A] != 0 && e.riskHead[p.B] != 0 && e.tr.open[pairKey(p.A, p.B)] != 0
			switch {
			case open:
				wk.tracked = append(wk.tracked, scored{pair: p, res: *r, model: wk.lastModelRef, order: wk.porder[lo+i]})
			case above:
				e.keepFresh(wk, scored{pair: p, res: *r, model: wk.lastModelRef, order: wk.porder[lo+i], fresh: true})
			}
			if e.scoredHook != nil {
				wk.hooked = append(wk.hooked, scored{pair: p, res: *r})
			}
		}
		wk.npairs += hi - lo
	}
	wk.pairs = wk.pairs[:copy(wk.pairs, wk.pairs[min(lo, n):])]
	wk.porder = wk.porder[:copy(wk.porder, wk.porder[min(lo, n):])]
}

// keepFresh keeps s, a candidate to open a risk, unless the worker already
// holds max_open_risks higher ones. Past twice the cap it keeps its highest
// max_open_risks (risk, then pair key: a total order, so that the tracker's
// choice does not depend on how the pairs were spread over the workers) and
// from then on drops at once what ranks below the last one kept, counting it
// as untracked.
func (e *Engine) keepFresh(wk *worker, s scored) {
	if wk.pruned && byRiskDesc(s, wk.floor) > 0 {
		wk.untracked++
		return
	}
	wk.fresh = append(wk.fresh, s)
	limit := e.cfg.MaxOpenRisks
	if len(wk.fresh) < 2*limit {
		return
	}
	slices.SortFunc(wk.fresh, byRiskDesc)
	wk.untracked += len(wk.fresh) - limit
	wk.fresh = wk.fresh[:limit]
	wk.floor, wk.pruned = wk.fresh[limit-1], true
}

// byRiskDesc orders scores by risk, highest first, then by pair.
func byRiskDesc(x, y scored) int {
	if c := cmp.Compare(y.res.Risk, x.res.Risk); c != 0 {
		return c
	}
	return cmp.Compare(pairKey(x.pair.A, x.pair.B), pairKey(y.pair.A, y.pair.B))
}

// shadowPick decides whether this batch is shadowed: an even spread of the
// share, deterministic per worker.
func (wk *worker) shadowPick(share float64) bool {
	if share <= 0 || share >= 1 {
		return true
	}
	wk.shadowAcc += share
	if wk.shadowAcc >= 1 {
		wk.shadowAcc--
		return true
	}
	return false
}

func (e *Engine) shadow(wk *worker, m *Models, active abi.ModelID, pairs []abi.Pair, res []abi.Result, activeDur time.Duration) {
	n := len(pairs)
	wk.sresults = growRes(wk.sresults, n)
	start := time.Now()
	err := m.Shadow.Score(context.Background(), e.params, e.veh, pairs, wk.sresults[:n])
	if err == nil && !validResults(wk.sresults[:n]) {
		err = errors.New("engine: shadow scorer returned malformed results")
	}
	b := ShadowBatch{
		Params:         e.params,
		Active:         active,
		Shadow:         m.Shadow.Model(),
		Pairs:          pairs,
		ActiveResults:  res,
		ShadowResults:  wk.sresults[:n],
		ActiveDuration: activeDur,
		ShadowDuration: time.Since(start),
		ShadowErr:      err,
	}
	m.ShadowObserver.Observe(&b)
}

// ModelScorer is a Scorer that may answer a batch with another model than
// its own (a Wasm plugin falling back to the last good model): it says which.
type ModelScorer interface {
	ScoreModel(ctx context.Context, p abi.Params, vs []abi.Vehicle, pairs []abi.Pair, res []abi.Result) (abi.ModelID, error)
}

// score runs the active scorer and then its fallbacks on one batch and returns
// the model that answered it. A batch no model could score gets risk 0 and
// the model "none" (and is counted).
func score(m *Models, p abi.Params, vs []abi.Vehicle, pairs []abi.Pair, res []abi.Result) abi.ModelID {
	if id, ok := scoreWith(m.Scorer, p, vs, pairs, res); ok {
		return id
	}
	for _, f := range m.ScorerFallback {
		if id, ok := scoreWith(f, p, vs, pairs, res); ok {
			return id
		}
	}
	for i := range res {
		res[i] = abi.Result{TIn: -1, TOut: -1}
	}
	return abi.ModelID{Name: "none"}
}

func scoreWith(s abi.Scorer, p abi.Params, vs []abi.Vehicle, pairs []abi.Pair, res []abi.Result) (abi.ModelID, bool) {
	if ms, ok := s.(ModelScorer); ok {
		id, err := ms.ScoreModel(context.Background(), p, vs, pairs, res)
		return id, err == nil && validResults(res)
	}
	err := s.Score(context.Background(), p, vs, pairs, res)
	return s.Model(), err == nil && validResults(res)
}

func validResults(res []abi.Result) bool {
	for i := range res {
		r := &res[i]
		if !(r.Risk >= 0 && r.Risk <= 1) || !(r.DMin >= 0) || math.IsInf(r.DMin, 0) ||
			math.IsNaN(r.TCA) || math.IsInf(r.TCA, 0) {
			return false
		}
	}
	return true
}

// track feeds the scored pairs to the tracker in pair order, so that events
// come out in the same order whatever the worker interleaving.
func (e *Engine) track(evs []Event, ts *TickStats) []Event {
	// The tracker sees the pairs in the order of the dirty list (the order
	// the updates were applied), whatever worker scored them: a counting sort
	// on the dirty index, linear where a comparison sort of a hotspot's
	// thousands of risky pairs was a fifth of the tick.
	count := growI32(e.orderCount, len(e.dirty)+1)
	clear(count)
	n := 0
	for w := range e.workers {
		wk := &e.workers[w]
		for _, l := range [2][]scored{wk.tracked, wk.fresh} {
			for i := range l {
				count[l[i].order+1]++
			}
			n += len(l)
		}
		if e.scoredHook != nil {
			for _, h := range wk.hooked {
				e.scoredHook(h.pair, h.res)
			}
		}
	}
	for i := 1; i < len(count); i++ {
		count[i] += count[i-1]
	}
	in := e.interest[:0]
	if cap(in) < n {
		in = make([]scored, n)
	}
	in = in[:n]
	for w := range e.workers {
		wk := &e.workers[w]
		for _, l := range [2][]scored{wk.tracked, wk.fresh} {
			for _, s := range l {
				in[count[s.order]] = s
				count[s.order]++
			}
		}
	}
	// Within one query the grid returns candidates in cell-entry order,
	// which depends on how the parallel writers interleaved: order each
	// query's (few) pairs by pair key.
	for lo := 0; lo < len(in); {
		hi := lo + 1
		for hi < len(in) && in[hi].order == in[lo].order {
			hi++
		}
		if hi-lo > 1 {
			slices.SortFunc(in[lo:hi], func(x, y scored) int {
				return cmp.Compare(pairKey(x.pair.A, x.pair.B), pairKey(y.pair.A, y.pair.B))
			})
		}
		lo = hi
	}
	evs = e.tr.track(e, in, evs, ts)
	e.interest, e.orderCount = in, count
	return evs
}

func growI32(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

func growVeh(s []abi.Vehicle, n int) []abi.Vehicle {
	if cap(s) < n {
		return make([]abi.Vehicle, n)
	}
	return s[:n]
}

func growBox(s []abi.Box, n int) []abi.Box {
	if cap(s) < n {
		return make([]abi.Box, n)
	}
	return s[:n]
}

func growRes(s []abi.Result, n int) []abi.Result {
	if cap(s) < n {
		return make([]abi.Result, n, n+n/4)
	}
	return s[:n]
}

func orderedPair(a, b uint32) abi.Pair {
	if a > b {
		a, b = b, a
	}
	return abi.Pair{A: a, B: b}
}
