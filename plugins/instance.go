package plugins

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// minArena is the smallest arena the host asks cdp_alloc for.
const minArena = 64 << 10

// instance is one module instance with its arena and scratch space. It is
// used by one goroutine at a time (the pool hands it out).
type instance struct {
	p                           *Plugin
	mod                         api.Module
	mem                         api.Memory
	scoreFn, predictFn, allocFn api.Function
	lastErrFn                   api.Function
	depth                       api.Global // DepthGlobal
	arena, arenaCap             uint32
	dead                        bool
	stack                       [2]uint64
	cc                          callCtx

	// Compaction scratch: stamp[i] == gen marks engine vehicle i as already
	// placed at remap[i] in this batch; order lists the placed vehicles.
	stamp, remap []uint32
	gen          uint32
	order        []uint32
	cpairs       []abi.Pair
}

// callCtx is the context of one batch call. wazero (WithCloseOnContextDone)
// watches Done and stops the guest when it closes. A fresh
// context.WithTimeout per batch would allocate a context and a timer each
// time; this one is reused: its AfterFunc timer is Reset per call and
// closes done when the batch time limit passes. done is closed at most once
// in an instance's life because a timed-out instance is discarded.
//
// The caller's ctx is checked before each call and serves Value lookups; its
// cancellation during a call takes effect at the batch time limit at the
// latest.
type callCtx struct {
	parent context.Context
	done   chan struct{}
	fired  atomic.Bool
	timer  *time.Timer
}

func (c *callCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *callCtx) Done() <-chan struct{}       { return c.done }
func (c *callCtx) Err() error {
	if c.fired.Load() {
		return context.DeadlineExceeded
	}
	return nil
}
func (c *callCtx) Value(key any) any {
	if c.parent == nil {
		return nil
	}
	return c.parent.Value(key)
}

var _ context.Context = (*callCtx)(nil)

// newInstance instantiates the module and runs the init sequence of
// SPEC.md section 3 under Limits.InitTimeout.
func (p *Plugin) newInstance(ctx context.Context) (*instance, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ictx, cancel := context.WithTimeout(ctx, p.opts.Limits.InitTimeout)
	defer cancel()
	cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions().
		WithStdout(p.stdout).WithStderr(p.stderr)
	if p.opts.AllowClock {
		cfg = cfg.WithSysWalltime().WithSysNanotime().WithSysNanosleep()
	}
	if p.opts.AllowRandom {
		cfg = cfg.WithRandSource(crand.Reader)
	}
	mod, err := p.rt.InstantiateModule(ictx, p.compiled, cfg)
	if err != nil {
		return nil, p.initFailure(ctx, "instantiate", err)
	}
	in := &instance{p: p, mod: mod, mem: mod.Memory()}
	ok := false
	defer func() {
		if !ok {
			_ = mod.Close(context.WithoutCancel(ctx))
		}
	}()
	if in.mem == nil {
		return nil, p.initFailure(ctx, "instantiate", errors.New("no memory"))
	}
	in.allocFn = mod.ExportedFunction("cdp_alloc")
	in.scoreFn = mod.ExportedFunction("cdp_score")
	in.predictFn = mod.ExportedFunction("cdp_predict")
	in.lastErrFn = mod.ExportedFunction("cdp_last_error")
	in.depth = mod.ExportedGlobal(DepthGlobal)

	if f := mod.ExportedFunction("_initialize"); f != nil {
		if _, err := f.Call(ictx); err != nil {
			return nil, p.initFailure(ctx, "_initialize", err)
		}
	}
	res, err := mod.ExportedFunction("cdp_abi_version").Call(ictx)
	if err != nil {
		return nil, p.initFailure(ctx, "cdp_abi_version", err)
	}
	version := uint32(res[0])
	if version>>16 != abi.VersionMajor {
		return nil, &FailureError{Plugin: p.label(), Op: "cdp_abi_version", Reason: ReasonInstance,
			Detail: fmt.Sprintf("plugin speaks ABI %d.%d, host speaks %d.%d", version>>16, version&0xffff, abi.VersionMajor, abi.VersionMinor),
			Cause:  abi.ErrVersion}
	}
	if version&0xffff > abi.VersionMinor {
		return nil, &FailureError{Plugin: p.label(), Op: "cdp_abi_version", Reason: ReasonInstance,
			Detail: fmt.Sprintf("plugin needs ABI %d.%d, host speaks %d.%d", version>>16, version&0xffff, abi.VersionMajor, abi.VersionMinor),
			Cause:  abi.ErrVersion}
	}
	res, err = mod.ExportedFunction("cdp_manifest").Call(ictx)
	if err != nil {
		return nil, p.initFailure(ctx, "cdp_manifest", err)
	}
	mptr, mlen := uint32(res[0]>>32), uint32(res[0])
	if mlen > abi.MaxManifestSize {
		return nil, &FailureError{Plugin: p.label(), Op: "cdp_manifest", Reason: ReasonInstance,
			Detail: fmt.Sprintf("manifest is %d bytes, over %d", mlen, abi.MaxManifestSize)}
	}
	mb, okr := in.mem.Read(mptr, mlen)
	if !okr {
		return nil, &FailureError{Plugin: p.label(), Op: "cdp_manifest", Reason: ReasonInstance,
			Detail: fmt.Sprintf("manifest at %d+%d lies outside memory", mptr, mlen)}
	}
	m, err := parseManifest(mb)
	if err != nil {
		return nil, &FailureError{Plugin: p.label(), Op: "cdp_manifest", Reason: ReasonInstance, Detail: err.Error()}
	}
	if p.manifest.Name == "" {
		if err := p.adopt(m, version); err != nil {
			return nil, err
		}
	} else if m != p.manifest || version != p.version {
		return nil, &FailureError{Plugin: p.label(), Op: "cdp_manifest", Reason: ReasonInstance,
			Detail: "a new instance reports another manifest or version than the first"}
	}

	if p.hasInit {
		cfg := p.opts.Config
		res, err := in.allocFn.Call(ictx, uint64(len(cfg)))
		if err != nil {
			return nil, p.initFailure(ctx, "cdp_alloc", err)
		}
		ptr := uint32(res[0])
		if ptr == 0 && len(cfg) > 0 || !in.mem.Write(ptr, cfg) {
			return nil, &FailureError{Plugin: p.label(), Op: "cdp_alloc", Reason: ReasonInstance,
				Detail: fmt.Sprintf("cdp_alloc(%d) returned an unusable pointer %d", len(cfg), ptr)}
		}
		res, err = mod.ExportedFunction("cdp_init").Call(ictx, uint64(ptr), uint64(len(cfg)))
		if err != nil {
			return nil, p.initFailure(ctx, "cdp_init", err)
		}
		if code := int32(res[0]); code != 0 {
			return nil, &FailureError{Plugin: p.label(), Op: "cdp_init", Reason: ReasonInstance,
				Detail: fmt.Sprintf("returned %s: %s", abi.StatusText(code), in.lastError(ictx))}
		}
	} else if !emptyConfig(p.opts.Config) {
		return nil, &FailureError{Plugin: p.label(), Op: "cdp_init", Reason: ReasonInstance,
			Detail: "the plugin takes no configuration (no cdp_init export) but one was given"}
	}

	in.cc.parent = context.Background()
	in.cc.done = make(chan struct{})
	in.cc.timer = time.AfterFunc(time.Hour, func() {
		in.cc.fired.Store(true)
		close(in.cc.done)
	})
	in.cc.timer.Stop()
	p.stats.created.Add(1)
	ok = true
	return in, nil
}

// adopt takes the first instance's manifest as the plugin's identity.
func (p *Plugin) adopt(m Manifest, version uint32) error {
	k := m.ModelKind()
	if k&abi.KindScorer != 0 && p.compiled.ExportedFunctions()["cdp_score"] == nil {
		return &FailureError{Plugin: m.Name, Op: "cdp_manifest", Reason: ReasonInstance,
			Detail: fmt.Sprintf("manifest kind %q but no cdp_score export", m.Kind)}
	}
	if k&abi.KindPredictor != 0 && p.compiled.ExportedFunctions()["cdp_predict"] == nil {
		return &FailureError{Plugin: m.Name, Op: "cdp_manifest", Reason: ReasonInstance,
			Detail: fmt.Sprintf("manifest kind %q but no cdp_predict export", m.Kind)}
	}
	p.manifest, p.kind, p.version = m, k, version
	p.id.Name, p.id.Version = m.Name, m.Version
	return nil
}

func (p *Plugin) label() string {
	if p.id.Name == "" {
		return "module " + p.id.SHA256[:12]
	}
	return p.id.Name + "@" + p.id.Version
}

// initFailure classifies an error of the init sequence.
func (p *Plugin) initFailure(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil { // the caller gave up; not the plugin's fault
		return ctx.Err()
	}
	f := &FailureError{Plugin: p.label(), Op: op, Reason: ReasonInstance, Cause: err}
	var ee *sys.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == sys.ExitCodeDeadlineExceeded {
		f.Detail = fmt.Sprintf("exceeded the init time limit of %v (Limits.InitTimeout)", p.opts.Limits.InitTimeout)
	}
	return f
}

func (in *instance) close() {
	if in.cc.timer != nil {
		in.cc.timer.Stop()
	}
	_ = in.mod.Close(context.Background())
}

// lastError reads cdp_last_error, if exported, for a failure message.
func (in *instance) lastError(ctx context.Context) string {
	if in.lastErrFn == nil {
		return "(no cdp_last_error)"
	}
	res, err := in.lastErrFn.Call(ctx)
	if err != nil {
		return "(cdp_last_error failed)"
	}
	ptr, n := uint32(res[0]>>32), uint32(res[0])
	n = min(n, abi.MaxErrorSize)
	b, ok := in.mem.Read(ptr, n)
	if !ok {
		return "(cdp_last_error outside memory)"
	}
	return string(b)
}

// call runs fn(arg) under the batch time limit and classifies what went
// wrong. It does not allocate (wazero's own watcher goroutine aside).
func (in *instance) call(op string, fn api.Function, arg uint32) (int32, error) {
	in.stack[0] = uint64(arg)
	in.cc.timer.Reset(in.p.opts.Limits.BatchTimeout)
	err := fn.CallWithStack(&in.cc, in.stack[:])
	if !in.cc.timer.Stop() {
		in.dead = true
		return 0, &FailureError{Plugin: in.p.label(), Op: op, Reason: ReasonTimeout,
			Detail: fmt.Sprintf("exceeded %v (Limits.BatchTimeout)", in.p.opts.Limits.BatchTimeout)}
	}
	if err != nil {
		in.dead = true
		f := &FailureError{Plugin: in.p.label(), Op: op, Reason: ReasonTrap, Cause: err}
		var ee *sys.ExitError
		if errors.As(err, &ee) {
			f.Reason = ReasonExit
			f.Detail = fmt.Sprintf("exit code %d", ee.ExitCode())
		} else if in.depth != nil && uint32(in.depth.Get()) == depthExhausted {
			f.Detail = fmt.Sprintf("stack overflow: call depth over %d (Limits.MaxCallDepth)", in.p.opts.Limits.MaxCallDepth)
		}
		return 0, f
	}
	return int32(uint32(in.stack[0])), nil
}

// prepare makes the arena hold size bytes (asking cdp_alloc for a larger one
// when it does not) and returns the arena's bytes, valid until the guest runs.
func (in *instance) prepare(size uint32) ([]byte, error) {
	if size > in.arenaCap {
		want := uint32(minArena)
		if size > want {
			want = 1 << bits.Len32(size-1)
		}
		ptr, err := in.call("cdp_alloc", in.allocFn, want)
		if err != nil {
			return nil, err
		}
		if ptr == 0 || ptr%8 != 0 {
			in.dead = true
			return nil, &FailureError{Plugin: in.p.label(), Op: "cdp_alloc", Reason: ReasonMalformed,
				Detail: fmt.Sprintf("cdp_alloc(%d) returned %d (0: out of memory; must be 8-aligned)", want, uint32(ptr))}
		}
		in.arena, in.arenaCap = uint32(ptr), want
	}
	b, ok := in.mem.Read(in.arena, size)
	if !ok {
		in.dead = true
		return nil, &FailureError{Plugin: in.p.label(), Op: "cdp_alloc", Reason: ReasonMalformed,
			Detail: fmt.Sprintf("arena %d+%d lies outside memory", in.arena, size)}
	}
	return b, nil
}

// invoke calls a batch export and checks its status and out_count; it
// returns the batch bytes as they are after the call.
func (in *instance) invoke(op string, fn api.Function, h *abi.Header) ([]byte, error) {
	code, err := in.call(op, fn, in.arena)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		in.dead = true
		return nil, &FailureError{Plugin: in.p.label(), Op: op, Reason: ReasonGuestError,
			Detail: fmt.Sprintf("returned %s: %s", abi.StatusText(code), in.lastError(context.Background()))}
	}
	// Memory may have grown during the call: fetch the slice again.
	b, ok := in.mem.Read(in.arena, h.BatchSize)
	if !ok {
		in.dead = true
		return nil, &FailureError{Plugin: in.p.label(), Op: op, Reason: ReasonMalformed, Detail: "arena no longer in memory"}
	}
	if got, want := abi.ReadOutCount(b), h.ExpectedOut(); got != want {
		in.dead = true
		return nil, &FailureError{Plugin: in.p.label(), Op: op, Reason: ReasonMalformed,
			Detail: fmt.Sprintf("out_count = %d, want %d", got, want)}
	}
	return b, nil
}

// score runs one guest score call for pairs (indices into vehicles).
func (in *instance) score(prm abi.Params, vehicles []abi.Vehicle, pairs []abi.Pair, results []abi.Result) error {
	if err := in.compact(vehicles, pairs); err != nil {
		return err
	}
	h, err := abi.ScoreHeader(prm, len(in.order), len(pairs))
	if err != nil {
		return err
	}
	b, err := in.prepare(h.BatchSize)
	if err != nil {
		return err
	}
	abi.PutHeader(b, &h)
	if vv := abi.VehiclesView(b, &h); vv != nil {
		for k, ei := range in.order {
			vv[k] = vehicles[ei]
		}
	} else {
		for k, ei := range in.order {
			abi.PutVehicle(b, &h, k, &vehicles[ei])
		}
	}
	abi.PutPairs(b, &h, in.cpairs)
	b, err = in.invoke("score", in.scoreFn, &h)
	if err != nil {
		return err
	}
	abi.GetResults(b, &h, results)
	if i, what := checkResults(prm.Horizon, results); i >= 0 {
		in.dead = true
		return &FailureError{Plugin: in.p.label(), Op: "score", Reason: ReasonMalformed,
			Detail: describeResult(i, what, &results[i])}
	}
	return nil
}

// compact numbers the vehicles that pairs reference 0..n-1 in first-use
// order (in.order maps back) and writes the renumbered pairs to in.cpairs.
func (in *instance) compact(vehicles []abi.Vehicle, pairs []abi.Pair) error {
	nv := len(vehicles)
	if len(in.stamp) < nv {
		in.stamp = make([]uint32, nv+nv/4)
		in.remap = make([]uint32, len(in.stamp))
		in.gen = 0
	}
	in.gen++
	if in.gen == 0 {
		clear(in.stamp)
		in.gen = 1
	}
	in.order = in.order[:0]
	if cap(in.cpairs) < len(pairs) {
		in.cpairs = make([]abi.Pair, 0, len(pairs))
	}
	in.cpairs = in.cpairs[:len(pairs)]
	gen := in.gen
	for i, pr := range pairs {
		if int(pr.A) >= nv || int(pr.B) >= nv || pr.A == pr.B {
			return fmt.Errorf("plugins: pair %d = (%d, %d) with %d vehicles: index out of range or A == B", i, pr.A, pr.B, nv)
		}
		if in.stamp[pr.A] != gen {
			in.stamp[pr.A], in.remap[pr.A] = gen, uint32(len(in.order))
			in.order = append(in.order, pr.A)
		}
		if in.stamp[pr.B] != gen {
			in.stamp[pr.B], in.remap[pr.B] = gen, uint32(len(in.order))
			in.order = append(in.order, pr.B)
		}
		in.cpairs[i] = abi.Pair{A: in.remap[pr.A], B: in.remap[pr.B]}
	}
	return nil
}

// predict runs one guest predict call.
func (in *instance) predict(prm abi.Params, vehicles []abi.Vehicle, boxes []abi.Box, samples []abi.Point) error {
	h, err := abi.PredictHeader(prm, len(vehicles))
	if err != nil {
		return err
	}
	b, err := in.prepare(h.BatchSize)
	if err != nil {
		return err
	}
	abi.PutHeader(b, &h)
	abi.PutVehicles(b, &h, vehicles)
	b, err = in.invoke("predict", in.predictFn, &h)
	if err != nil {
		return err
	}
	ns := int(prm.Samples)
	abi.GetBoxes(b, &h, boxes[:len(vehicles)])
	abi.GetSamples(b, &h, samples[:len(vehicles)*ns])
	if i, what := checkPredictions(vehicles, boxes, samples, ns, prm.Horizon, in.p.opts.MaxSpeeds); i >= 0 {
		in.dead = true
		return &FailureError{Plugin: in.p.label(), Op: "predict", Reason: ReasonMalformed,
			Detail: fmt.Sprintf("vehicle %d: %s (box %+v)", i, what, boxes[i])}
	}
	return nil
}

func finite(x float64) bool { return x-x == 0 }

// checkResults returns the index of the first result that breaks SPEC.md
// 5.3 and what is wrong with it, or -1. It does not allocate.
func checkResults(horizon float64, rs []abi.Result) (int, string) {
	for i := range rs {
		r := &rs[i]
		switch {
		case !(r.Risk >= 0 && r.Risk <= 1):
			return i, "risk outside [0, 1]"
		case !(r.TCA >= 0 && r.TCA <= horizon):
			return i, "tca outside [0, horizon]"
		case !(r.DMin >= 0) || !finite(r.DMin):
			return i, "dmin negative or not finite"
		case r.Flags&^(abi.ResultConflict|abi.ResultLoS) != 0:
			return i, "unknown flag bits"
		case r.Flags&abi.ResultLoS != 0 && r.Flags&abi.ResultConflict == 0:
			return i, "LOS without CONFLICT"
		case r.Flags&abi.ResultConflict != 0 && !(r.TIn >= 0 && r.TIn <= r.TOut && r.TOut <= horizon):
			return i, "conflict window not within 0 <= t_in <= t_out <= horizon"
		case r.Flags&abi.ResultConflict == 0 && (r.TIn != -1 || r.TOut != -1):
			return i, "t_in and t_out must be -1 without CONFLICT"
		}
	}
	return -1, ""
}

func describeResult(i int, what string, r *abi.Result) string {
	return fmt.Sprintf("result %d: %s (risk %v, tca %v, dmin %v, t_in %v, t_out %v, flags %#x)",
		i, what, r.Risk, r.TCA, r.DMin, r.TIn, r.TOut, r.Flags)
}

func inBox(b *abi.Box, x, y, z float64) bool {
	return x >= b.MinX && x <= b.MaxX && y >= b.MinY && y <= b.MaxY && z >= b.MinZ && z <= b.MaxZ
}

// boxMargin is added to the reach of a predicted box beyond horizon x
// speed: three sigmas of position uncertainty, the hard-body radius and
// this many metres.
const boxMargin = 10

// maxReach is how far from the vehicle a box for it may reach: the horizon
// times the plausible top speed of its class (speeds, by class index;
// DefaultMaxSpeed for a class beyond it or set to 0), or 1.5 times the
// vehicle's own speed when that is more, plus the margins.
func maxReach(v *abi.Vehicle, horizon float64, speeds []float64) float64 {
	vmax := DefaultMaxSpeed
	if int(v.Class) < len(speeds) && speeds[v.Class] > 0 {
		vmax = speeds[v.Class]
	}
	vmax = max(vmax, 1.5*math.Sqrt(v.VX*v.VX+v.VY*v.VY+v.VZ*v.VZ))
	return horizon*vmax + 3*float64(v.Sigma) + float64(v.Radius) + boxMargin
}

// checkPredictions returns the first vehicle whose box or samples break
// SPEC.md section 6, or whose box reaches farther from it than maxReach, or
// -1. A box of +-1e30 m or a hemisphere is well formed but pairs its
// vehicle with every other: the grid's work grows with the square of the
// fleet, so an implausible box is a failing model.
func checkPredictions(vs []abi.Vehicle, boxes []abi.Box, samples []abi.Point, ns int, horizon float64, speeds []float64) (int, string) {
	for i := range vs {
		b := &boxes[i]
		if !finite(b.MinX) || !finite(b.MinY) || !finite(b.MinZ) || !finite(b.MaxX) || !finite(b.MaxY) || !finite(b.MaxZ) {
			return i, "box not finite"
		}
		if !(b.MinX <= b.MaxX && b.MinY <= b.MaxY && b.MinZ <= b.MaxZ) {
			return i, "box min > max"
		}
		v := &vs[i]
		if !inBox(b, v.X, v.Y, v.Z) {
			return i, "box does not contain the current position"
		}
		r := maxReach(v, horizon, speeds)
		if b.MinX < v.X-r || b.MinY < v.Y-r || b.MinZ < v.Z-r || b.MaxX > v.X+r || b.MaxY > v.Y+r || b.MaxZ > v.Z+r {
			return i, fmt.Sprintf("box reaches farther than %.0f m from the vehicle (horizon %g s x plausible speed of class %d, plus margins: MaxSpeeds)", r, horizon, v.Class)
		}
		for k := i * ns; k < (i+1)*ns; k++ {
			s := &samples[k]
			if !finite(s.X) || !finite(s.Y) || !finite(s.Z) {
				return i, "sample not finite"
			}
			if !inBox(b, s.X, s.Y, s.Z) {
				return i, "box does not contain sample " + fmt.Sprint(k-i*ns+1)
			}
		}
	}
	return -1, ""
}
