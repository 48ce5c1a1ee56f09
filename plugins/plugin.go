package plugins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

const wasiModule = "wasi_snapshot_preview1"

// Plugin is a loaded Wasm model: a compiled module and a pool of instances
// created from it, one per concurrent caller. It implements abi.Scorer and
// abi.Predictor (as far as its manifest's kind says) and is safe for
// concurrent use.
//
// A batch whose guest call fails (trap, time limit, proc_exit, non-zero
// status, malformed output) never reaches the caller as plugin output: the
// instance is discarded, the failure is counted with its reason, and the
// batch is scored by Options.Fallback (or the error is returned when there is
// none). After Options.Breaker.Failures failures within the window the plugin
// is out of service: every batch goes to the fallback until Reset.
type Plugin struct {
	rt       wazero.Runtime
	compiled wazero.CompiledModule
	opts     Options
	id       abi.ModelID
	manifest Manifest
	kind     abi.Kind
	version  uint32 // the plugin's major<<16 | minor
	exports  []string
	imports  []string

	hasInit       bool
	hasLastError  bool
	hasInitialize bool

	pool   chan *instance // nil entries: slots with no live instance
	closed atomic.Bool

	stdout, stderr *guestLog
	stats          counters
	brk            breaker
	compileTime    time.Duration
}

// ModelScorer is implemented by scorers that can say which model produced a
// batch's results (a Plugin answers with its fallback's ModelID when the
// fallback scored the batch). The engine uses it to name the model in every
// risk event.
type ModelScorer interface {
	ScoreModel(ctx context.Context, p abi.Params, vehicles []abi.Vehicle, pairs []abi.Pair, results []abi.Result) (abi.ModelID, error)
}

// ModelPredictor is ModelScorer for predictors.
type ModelPredictor interface {
	PredictModel(ctx context.Context, p abi.Params, vehicles []abi.Vehicle, boxes []abi.Box, samples []abi.Point) (abi.ModelID, error)
}

// Load compiles module, checks its imports and exports, creates its first
// instance (which runs _initialize, reads the ABI version and the manifest,
// and passes opts.Config to cdp_init) and returns the plugin. Any problem
// with the module is an error wrapping ErrRefused that names the cause.
// Compilation is cached (see Runtime), so loading a module again is fast.
func (r *Runtime) Load(ctx context.Context, module []byte, opts Options) (*Plugin, error) {
	o, err := opts.resolved()
	if err != nil {
		return nil, err
	}
	if len(module) > o.Limits.MaxModuleBytes {
		return nil, refused(RefusedTooLarge, "module is %d bytes, over the limit of %d (Limits.MaxModuleBytes)", len(module), o.Limits.MaxModuleBytes)
	}
	if err := scanModule(module); err != nil {
		cause := RefusedCompile
		if errors.Is(err, errNotWasm) {
			cause = RefusedNotWasm
		}
		return nil, refused(cause, "%v", err)
	}
	// The exports decide before compiling: a module that cannot be a plugin
	// costs no compilation (a 4 MiB one reached 400 MB while compiling).
	if err := checkExportsDeclared(module); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(module)
	p := &Plugin{opts: o}
	p.id.SHA256 = hex.EncodeToString(sum[:])
	// What runs is the module with a deadline check at every function
	// entry (see instrument); the model keeps the uploaded module's sha256.
	code, err := instrument(module, o.Limits.MaxCallDepth)
	if err != nil {
		return nil, refused(RefusedCompile, "%v", err)
	}
	if o.uninstrumented {
		code = module
	}
	codeSum := sha256.Sum256(code)
	p.rt, err = r.newWazero(ctx, o.Limits)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			_ = p.rt.Close(context.WithoutCancel(ctx))
		}
	}()
	t0 := time.Now()
	if err := r.keep(ctx, o.Limits, codeSum, code); err != nil {
		if errors.Is(err, ErrClosed) {
			return nil, err
		}
		return nil, refused(RefusedCompile, "compile: %v", err)
	}
	p.compiled, err = p.rt.CompileModule(ctx, code)
	if err != nil {
		return nil, refused(RefusedCompile, "compile: %v", err)
	}
	p.compileTime = time.Since(t0)
	if err := p.checkModule(); err != nil {
		return nil, err
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, p.rt); err != nil {
		return nil, fmt.Errorf("plugins: wasi: %w", err)
	}
	if err := p.checkImportsOffered(); err != nil {
		return nil, err
	}
	lo := o
	lo.Logger = o.Logger.With(slog.String("module_sha256", p.id.SHA256[:16]))
	p.stdout = newGuestLog(lo, "stdout")
	p.stderr = newGuestLog(lo, "stderr")
	p.brk.init(o.Breaker)

	first, err := p.newInstance(ctx)
	if err != nil {
		if f, ok := err.(*FailureError); ok {
			return nil, refusedInstance(f)
		}
		return nil, err
	}
	p.pool = make(chan *instance, o.Instances)
	p.pool <- first
	for i := 1; i < o.Instances; i++ {
		p.pool <- nil
	}
	ok = true
	return p, nil
}

// checkExportsDeclared refuses, from the export section alone, a module
// that lacks a required export or its memory; signatures are checked after
// compilation (checkModule).
func checkExportsDeclared(module []byte) error {
	exports, _ := moduleInterface(module)
	if k, ok := exports["memory"]; !ok || k != 2 {
		return refused(RefusedExports, "does not export its memory as \"memory\"")
	}
	for _, name := range requiredExports() {
		if k, ok := exports[name]; !ok || k != 0 {
			return refused(RefusedExports, "missing export %s", name)
		}
	}
	return nil
}

// requiredExports lists the functions every plugin exports, sorted.
func requiredExports() []string {
	var names []string
	for name, sig := range exportSigs {
		if sig.required {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// funcSig is an export's expected signature.
type funcSig struct {
	params, results []api.ValueType
	required        bool
}

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

var exportSigs = map[string]funcSig{
	"cdp_abi_version": {nil, []api.ValueType{i32}, true},
	"cdp_manifest":    {nil, []api.ValueType{i64}, true},
	"cdp_alloc":       {[]api.ValueType{i32}, []api.ValueType{i32}, true},
	"cdp_init":        {[]api.ValueType{i32, i32}, []api.ValueType{i32}, false},
	"cdp_score":       {[]api.ValueType{i32}, []api.ValueType{i32}, false},
	"cdp_predict":     {[]api.ValueType{i32}, []api.ValueType{i32}, false},
	"cdp_last_error":  {nil, []api.ValueType{i64}, false},
	"_initialize":     {nil, nil, false},
}

func sameTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkModule refuses a module whose imports or exports break SPEC.md 2.1/2.2.
func (p *Plugin) checkModule() error {
	cm := p.compiled
	for _, d := range cm.ImportedFunctions() {
		mod, name, _ := d.Import()
		p.imports = append(p.imports, mod+"."+name)
		if mod != wasiModule {
			return refused(RefusedImports, "imports function %s.%s: only %s is offered", mod, name, wasiModule)
		}
	}
	for _, d := range cm.ImportedMemories() {
		mod, name, _ := d.Import()
		return refused(RefusedImports, "imports memory %s.%s: a plugin must define and export its own memory", mod, name)
	}
	if _, ok := cm.ExportedMemories()["memory"]; !ok {
		return refused(RefusedExports, "does not export its memory as \"memory\"")
	}
	fns := cm.ExportedFunctions()
	for name := range fns {
		p.exports = append(p.exports, name)
	}
	sort.Strings(p.exports)
	// In a fixed order, so that a module missing several exports is always
	// refused with the same message.
	names := make([]string, 0, len(exportSigs))
	for name := range exportSigs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		sig := exportSigs[name]
		d, ok := fns[name]
		if !ok {
			if sig.required {
				return refused(RefusedExports, "missing export %s", name)
			}
			continue
		}
		if !sameTypes(d.ParamTypes(), sig.params) || !sameTypes(d.ResultTypes(), sig.results) {
			return refused(RefusedExports, "export %s has signature %v -> %v, want %v -> %v", name,
				typeNames(d.ParamTypes()), typeNames(d.ResultTypes()), typeNames(sig.params), typeNames(sig.results))
		}
	}
	_, p.hasInit = fns["cdp_init"]
	_, p.hasLastError = fns["cdp_last_error"]
	_, p.hasInitialize = fns["_initialize"]
	if _, start := fns["_start"]; start && !p.hasInitialize {
		return refused(RefusedExports, "exports _start but not _initialize: build the plugin as a WASI reactor (Go: -buildmode=c-shared; C: -Wl,--no-entry)")
	}
	return nil
}

// checkImportsOffered refuses WASI imports that wazero does not implement,
// with a clearer message than instantiation would give.
func (p *Plugin) checkImportsOffered() error {
	var offered map[string]api.FunctionDefinition
	if w := p.rt.Module(wasiModule); w != nil {
		offered = w.ExportedFunctionDefinitions()
	}
	for _, d := range p.compiled.ImportedFunctions() {
		_, name, _ := d.Import()
		if _, ok := offered[name]; !ok {
			return refused(RefusedImports, "imports function %s.%s, which is not offered", wasiModule, name)
		}
	}
	return nil
}

func typeNames(ts []api.ValueType) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = api.ValueTypeName(t)
	}
	return out
}

// Model returns the plugin's identity: manifest name and version, module sha256.
func (p *Plugin) Model() abi.ModelID { return p.id }

// Manifest returns the plugin's manifest.
func (p *Plugin) Manifest() Manifest { return p.manifest }

// Kind returns what the plugin implements.
func (p *Plugin) Kind() abi.Kind { return p.kind }

// ABIVersion returns the plugin's cdp_abi_version (major<<16 | minor).
func (p *Plugin) ABIVersion() uint32 { return p.version }

// Exports returns the names of the module's exported functions, sorted.
func (p *Plugin) Exports() []string { return append([]string(nil), p.exports...) }

// Imports returns the module's imported functions as "module.name".
func (p *Plugin) Imports() []string { return append([]string(nil), p.imports...) }

// Score implements abi.Scorer. It returns nil when the fallback scored the
// batch after a guest failure; use ScoreModel to learn which model did.
func (p *Plugin) Score(ctx context.Context, prm abi.Params, vehicles []abi.Vehicle, pairs []abi.Pair, results []abi.Result) error {
	_, err := p.ScoreModel(ctx, prm, vehicles, pairs, results)
	return err
}

// ScoreModel scores pairs (indices into vehicles) into results and returns
// the model that produced them: this plugin, or the fallback after a failure
// or while the breaker is open. Only the vehicles that pairs reference are
// copied into the guest, renumbered; batches over Limits.MaxBatch pairs are
// split. In steady state it does not allocate. If one part of a split batch
// fails, the fallback scores the whole batch, so one call's results always
// come from one model.
func (p *Plugin) ScoreModel(ctx context.Context, prm abi.Params, vehicles []abi.Vehicle, pairs []abi.Pair, results []abi.Result) (abi.ModelID, error) {
	if len(results) < len(pairs) {
		return p.id, ErrShortOutput
	}
	if p.kind&abi.KindScorer == 0 {
		return p.fallbackScore(ctx, prm, vehicles, pairs, results, ErrNotImplemented)
	}
	if p.closed.Load() {
		return p.fallbackScore(ctx, prm, vehicles, pairs, results, ErrClosed)
	}
	if p.brk.isOpen() {
		p.stats.skipped.Add(1)
		return p.fallbackScore(ctx, prm, vehicles, pairs, results, ErrBreakerOpen)
	}
	if len(pairs) == 0 {
		return p.id, nil
	}
	max := p.opts.Limits.MaxBatch
	for s := 0; s < len(pairs); s += max {
		e := min(s+max, len(pairs))
		if err := p.scoreChunk(ctx, prm, vehicles, pairs[s:e], results[s:e]); err != nil {
			if f, ok := err.(*FailureError); ok {
				p.fail(f)
				return p.fallbackScore(ctx, prm, vehicles, pairs, results, f)
			}
			return p.id, err
		}
	}
	p.stats.batches.Add(1)
	p.stats.pairs.Add(uint64(len(pairs)))
	return p.id, nil
}

func (p *Plugin) scoreChunk(ctx context.Context, prm abi.Params, vehicles []abi.Vehicle, pairs []abi.Pair, results []abi.Result) error {
	in, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	err = in.score(prm, vehicles, pairs, results)
	p.release(in, err)
	return err
}

func (p *Plugin) fallbackScore(ctx context.Context, prm abi.Params, vehicles []abi.Vehicle, pairs []abi.Pair, results []abi.Result, cause error) (abi.ModelID, error) {
	fb := p.opts.Fallback
	if fb == nil {
		return p.id, cause
	}
	p.stats.fallback.Add(1)
	if ms, ok := fb.(ModelScorer); ok {
		id, err := ms.ScoreModel(ctx, prm, vehicles, pairs, results)
		if err != nil {
			return id, fmt.Errorf("plugins: fallback %s after %w: %w", id.Name, cause, err)
		}
		return id, nil
	}
	if err := fb.Score(ctx, prm, vehicles, pairs, results); err != nil {
		return fb.Model(), fmt.Errorf("plugins: fallback %s after %w: %w", fb.Model().Name, cause, err)
	}
	return fb.Model(), nil
}

// Predict implements abi.Predictor; see Score.
func (p *Plugin) Predict(ctx context.Context, prm abi.Params, vehicles []abi.Vehicle, boxes []abi.Box, samples []abi.Point) error {
	_, err := p.PredictModel(ctx, prm, vehicles, boxes, samples)
	return err
}

// PredictModel predicts vehicles into boxes and samples (see abi.Predictor)
// and returns the model that produced them; see ScoreModel.
func (p *Plugin) PredictModel(ctx context.Context, prm abi.Params, vehicles []abi.Vehicle, boxes []abi.Box, samples []abi.Point) (abi.ModelID, error) {
	if len(boxes) < len(vehicles) || len(samples) < len(vehicles)*int(prm.Samples) {
		return p.id, ErrShortOutput
	}
	if p.kind&abi.KindPredictor == 0 {
		return p.fallbackPredict(ctx, prm, vehicles, boxes, samples, ErrNotImplemented)
	}
	if p.closed.Load() {
		return p.fallbackPredict(ctx, prm, vehicles, boxes, samples, ErrClosed)
	}
	if p.brk.isOpen() {
		p.stats.skipped.Add(1)
		return p.fallbackPredict(ctx, prm, vehicles, boxes, samples, ErrBreakerOpen)
	}
	max := p.opts.Limits.MaxBatch
	ns := int(prm.Samples)
	for s := 0; s < len(vehicles); s += max {
		e := min(s+max, len(vehicles))
		in, err := p.acquire(ctx)
		if err == nil {
			err = in.predict(prm, vehicles[s:e], boxes[s:e], samples[s*ns:e*ns])
			p.release(in, err)
		}
		if err != nil {
			if f, ok := err.(*FailureError); ok {
				p.fail(f)
				return p.fallbackPredict(ctx, prm, vehicles, boxes, samples, f)
			}
			return p.id, err
		}
	}
	p.stats.batches.Add(1)
	p.stats.vehicles.Add(uint64(len(vehicles)))
	return p.id, nil
}

func (p *Plugin) fallbackPredict(ctx context.Context, prm abi.Params, vehicles []abi.Vehicle, boxes []abi.Box, samples []abi.Point, cause error) (abi.ModelID, error) {
	fb := p.opts.FallbackPredictor
	if fb == nil {
		return p.id, cause
	}
	p.stats.fallback.Add(1)
	if mp, ok := fb.(ModelPredictor); ok {
		id, err := mp.PredictModel(ctx, prm, vehicles, boxes, samples)
		if err != nil {
			return id, fmt.Errorf("plugins: fallback %s after %w: %w", id.Name, cause, err)
		}
		return id, nil
	}
	if err := fb.Predict(ctx, prm, vehicles, boxes, samples); err != nil {
		return fb.Model(), fmt.Errorf("plugins: fallback %s after %w: %w", fb.Model().Name, cause, err)
	}
	return fb.Model(), nil
}

// acquire takes an instance from the pool, creating one in an empty slot.
// It blocks while every instance is busy, until ctx is done.
func (p *Plugin) acquire(ctx context.Context) (*instance, error) {
	var in *instance
	select {
	case in = <-p.pool:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if p.closed.Load() {
		p.pool <- in
		return nil, ErrClosed
	}
	if in != nil {
		return in, nil
	}
	in, err := p.newInstance(ctx)
	if err != nil {
		p.pool <- nil
		if f, ok := err.(*FailureError); ok {
			return nil, f
		}
		return nil, err
	}
	return in, nil
}

// release returns in to the pool; after any error the instance is discarded
// (a trapped or timed-out module may answer later calls with corrupt state).
func (p *Plugin) release(in *instance, err error) {
	if err != nil || in.dead {
		in.close()
		p.stats.discarded.Add(1)
		in = nil
	}
	p.pool <- in
}

// fail counts a failure, remembers it, logs it and feeds the breaker.
func (p *Plugin) fail(f *FailureError) {
	p.stats.failures.Add(1)
	p.stats.byReason[f.Reason].Add(1)
	p.stats.remember(f)
	opened := p.brk.record(time.Now(), f.Error())
	p.opts.Logger.Warn("plugin failure", slog.String("model", p.id.Name), slog.String("version", p.id.Version),
		slog.String("op", f.Op), slog.String("reason", f.Reason.String()), slog.String("error", f.Error()))
	if opened {
		p.opts.Logger.Error("plugin out of service: breaker open", slog.String("model", p.id.Name),
			slog.String("version", p.id.Version), slog.Int("failures", p.opts.Breaker.Failures),
			slog.Duration("window", p.opts.Breaker.Window))
	}
}

// Reset puts a plugin whose breaker opened back in service.
func (p *Plugin) Reset() { p.brk.reset() }

// Close waits for in-flight batches, closes every instance and the plugin's
// wazero runtime. Later calls go to the fallback (or fail with ErrClosed).
func (p *Plugin) Close(ctx context.Context) error {
	if p.closed.Swap(true) {
		return nil
	}
	for i := 0; i < cap(p.pool); i++ {
		var in *instance
		select {
		case in = <-p.pool:
		case <-ctx.Done():
			return ctx.Err()
		}
		if in != nil {
			in.close()
		}
		defer func() { p.pool <- nil }()
	}
	return p.rt.Close(ctx)
}

// counters are the plugin's statistics; see Stats.
type counters struct {
	batches, pairs, vehicles, failures, fallback, skipped, created, discarded atomic.Uint64
	byReason                                                                  [numReasons]atomic.Uint64

	mu   sync.Mutex
	last []FailureRecord // newest last, at most maxFailureRecords
}

const maxFailureRecords = 8

func (c *counters) remember(f *FailureError) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.last) == maxFailureRecords {
		copy(c.last, c.last[1:])
		c.last = c.last[:maxFailureRecords-1]
	}
	c.last = append(c.last, FailureRecord{Time: time.Now().UTC(), Op: f.Op, Reason: f.Reason.String(), Error: f.Error()})
}

// FailureRecord is one remembered failure.
type FailureRecord struct {
	Time   time.Time `json:"time"`
	Op     string    `json:"op"`
	Reason string    `json:"reason"`
	Error  string    `json:"error"`
}

// FailureCounts counts failures by reason.
type FailureCounts struct {
	Timeout    uint64 `json:"timeout"`     // guest call ran past its time limit
	Trap       uint64 `json:"trap"`        // guest trapped
	Exit       uint64 `json:"exit"`        // guest called proc_exit
	GuestError uint64 `json:"guest_error"` // guest returned a non-zero status
	Malformed  uint64 `json:"malformed"`   // output broke the ABI
	Instance   uint64 `json:"instance"`    // a new instance could not be created
}

// Stats is a snapshot of a plugin's counters, for /system/status, the admin
// API and the Prometheus collector.
type Stats struct {
	Model    abi.ModelID `json:"model"`
	Batches  uint64      `json:"batches"`  // calls answered by the plugin itself
	Pairs    uint64      `json:"pairs"`    // pairs scored by the plugin
	Vehicles uint64      `json:"vehicles"` // vehicles predicted by the plugin
	// Failures counts failed calls; each sent its batch to the fallback.
	Failures         uint64        `json:"failures"`
	FailuresByReason FailureCounts `json:"failures_by_reason"`
	// FallbackBatches counts calls answered by the fallback (after a failure,
	// while the breaker is open, or after Close).
	FallbackBatches uint64 `json:"fallback_batches"`
	// SkippedBatches counts calls sent straight to the fallback because the
	// breaker was open.
	SkippedBatches     uint64          `json:"skipped_batches"`
	BreakerOpen        bool            `json:"breaker_open"`
	BreakerCause       string          `json:"breaker_cause,omitempty"`
	InstancesCreated   uint64          `json:"instances_created"`
	InstancesDiscarded uint64          `json:"instances_discarded"`
	GuestLinesDropped  uint64          `json:"guest_lines_dropped"`
	CompileTime        time.Duration   `json:"compile_time_ns"`
	LastFailures       []FailureRecord `json:"last_failures,omitempty"` // oldest first, at most 8
}

// Stats returns a snapshot of the plugin's counters.
func (p *Plugin) Stats() Stats {
	c := &p.stats
	s := Stats{
		Model: p.id, Batches: c.batches.Load(), Pairs: c.pairs.Load(), Vehicles: c.vehicles.Load(),
		Failures: c.failures.Load(),
		FailuresByReason: FailureCounts{
			Timeout: c.byReason[ReasonTimeout].Load(), Trap: c.byReason[ReasonTrap].Load(),
			Exit: c.byReason[ReasonExit].Load(), GuestError: c.byReason[ReasonGuestError].Load(),
			Malformed: c.byReason[ReasonMalformed].Load(), Instance: c.byReason[ReasonInstance].Load(),
		},
		FallbackBatches: c.fallback.Load(), SkippedBatches: c.skipped.Load(),
		InstancesCreated: c.created.Load(), InstancesDiscarded: c.discarded.Load(),
		GuestLinesDropped: p.stdout.dropped.Load() + p.stderr.dropped.Load(),
		CompileTime:       p.compileTime,
	}
	s.BreakerOpen, s.BreakerCause = p.brk.state()
	c.mu.Lock()
	s.LastFailures = append([]FailureRecord(nil), c.last...)
	c.mu.Unlock()
	return s
}

// breaker opens after n failures within window.
type breaker struct {
	open   atomic.Bool
	mu     sync.Mutex
	n      int
	window time.Duration
	times  []time.Time
	cause  string
}

func (b *breaker) init(c Breaker) {
	b.n, b.window = c.Failures, c.Window
}

func (b *breaker) isOpen() bool { return b.open.Load() }

// record notes a failure and reports whether it opened the breaker.
func (b *breaker) record(now time.Time, cause string) bool {
	if b.n < 0 {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.times = append(b.times, now)
	if len(b.times) > b.n {
		b.times = b.times[len(b.times)-b.n:]
	}
	if len(b.times) == b.n && now.Sub(b.times[0]) <= b.window && !b.open.Load() {
		b.cause = fmt.Sprintf("%d failures in %v, last: %s", b.n, now.Sub(b.times[0]).Round(time.Millisecond), cause)
		b.open.Store(true)
		return true
	}
	return false
}

func (b *breaker) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.times = b.times[:0]
	b.cause = ""
	b.open.Store(false)
}

func (b *breaker) state() (bool, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.open.Load(), b.cause
}

// Interface guards.
var (
	_ abi.Scorer     = (*Plugin)(nil)
	_ abi.Predictor  = (*Plugin)(nil)
	_ ModelScorer    = (*Plugin)(nil)
	_ ModelPredictor = (*Plugin)(nil)
)

func sortStrings(s []string) { sort.Strings(s) }
