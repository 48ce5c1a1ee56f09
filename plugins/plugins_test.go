package plugins

import (
	"context"
	"errors"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/builtin"
	"github.com/collision-detection-platform/distributed-platform/examples"
	"github.com/collision-detection-platform/distributed-platform/plugins/wasmtest"
)

var ctx = context.Background()

// TestExamplesConformance builds every example from source and runs it
// against the conformance vectors in exact mode.
func TestExamplesConformance(t *testing.T) {
	for _, name := range []string{"c-cpa", "go-cpa"} {
		t.Run(name, func(t *testing.T) {
			mod := examples.Module(t, name)
			rep := Conformance(ctx, mod)
			var sb strings.Builder
			rep.WriteText(&sb)
			t.Log("\n" + sb.String())
			if !rep.Pass || rep.Mode != "exact" {
				t.Fatalf("conformance failed (mode %s)", rep.Mode)
			}
			if len(rep.Vectors) < 4 {
				t.Fatalf("only %d vectors ran", len(rep.Vectors))
			}
		})
	}
}

// TestExamplesMatchBuiltinOnTraffic scores random traffic through the full
// Score path (vehicle compaction, split batches) and compares with the
// builtin bit for bit.
func TestExamplesMatchBuiltinOnTraffic(t *testing.T) {
	vs, ps := traffic(3, 3000, 20000, 4000)
	prm := abi.Params{Horizon: 30, MinRisk: 0.3}
	want := make([]abi.Result, len(ps))
	if err := (builtin.Scorer{}).Score(ctx, prm, vs, ps, want); err != nil {
		t.Fatal(err)
	}
	conflicts := 0
	for _, r := range want {
		if r.Flags&abi.ResultConflict != 0 {
			conflicts++
		}
	}
	if conflicts < 10 {
		t.Fatalf("traffic too sparse: %d conflicts", conflicts)
	}
	for _, name := range []string{"c-cpa", "go-cpa"} {
		t.Run(name, func(t *testing.T) {
			p := mustLoad(t, mustRuntime(t), examples.Module(t, name), Options{Limits: Limits{MaxBatch: 4096}, Instances: 2})
			got := make([]abi.Result, len(ps))
			id, err := p.ScoreModel(ctx, prm, vs, ps, got)
			if err != nil {
				t.Fatal(err)
			}
			if id != p.Model() || id.Name != "cpa-"+name[:strings.IndexByte(name, '-')] {
				t.Fatalf("scored by %+v", id)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("pair %d %v: got %+v want %+v", i, ps[i], got[i], want[i])
				}
			}
			if s := p.Stats(); s.Pairs != uint64(len(ps)) || s.Failures != 0 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

// TestConformanceDetectsMismatch: a well-formed scorer that claims to match
// the builtin fails with the first differing field named; the same module
// without the claim passes the well-formed checks.
func TestConformanceDetectsMismatch(t *testing.T) {
	claim := wasmtest.Hostile{Manifest: `{"name":"zero","version":"1","kind":"scorer","matches_builtin":true}`}.Module()
	rep := Conformance(ctx, claim)
	if rep.Pass || rep.Mode != "exact" {
		t.Fatalf("a zero scorer passed exact conformance: %+v", rep)
	}
	var detail string
	for _, v := range rep.Vectors {
		if !v.Pass && !v.Skipped {
			detail = v.Detail
			break
		}
	}
	if !strings.Contains(detail, "pair 0") || !strings.Contains(detail, "want") {
		t.Fatalf("detail does not name the first differing field: %q", detail)
	}

	rep = Conformance(ctx, wasmtest.Hostile{}.Module())
	if !rep.Pass || rep.Mode != "well-formed" {
		var sb strings.Builder
		rep.WriteText(&sb)
		t.Fatalf("well-formed zero scorer failed:\n%s", sb.String())
	}
	for _, v := range rep.Vectors {
		if strings.HasPrefix(v.Name, "predict") != v.Skipped {
			t.Fatalf("vector %s skipped=%v for a scorer", v.Name, v.Skipped)
		}
	}
}

// nondeterministic scorers are caught: this one writes a risk that depends on
// its position in the batch.
func TestConformanceDetectsNondeterminism(t *testing.T) {
	// after the loop: result 0 gets risk = n_pairs / 2^20 (depends on the batch size)
	after := wasmtest.Code{}.Get(2).Get(0).Load32(20).Op(0xb8 /* f64.convert_i32_u */).F64(1 << 20).Op(0xa3 /* f64.div */).StoreF64(0)
	rep := Conformance(ctx, wasmtest.Hostile{After: after}.Module())
	if rep.Pass {
		t.Fatal("a batch-dependent scorer passed")
	}
	found := false
	for _, v := range rep.Vectors {
		if strings.Contains(v.Detail, "reordered") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no vector reported the reordering difference: %+v", rep.Vectors)
	}
}

// hostileCase is one entry of the hostile-module table.
type hostileCase struct {
	name   string
	module func() []byte
	limits Limits
	// refused: Load must fail with ErrRefused and this text; otherwise every
	// batch must fail with reason and be scored by the fallback.
	refused string
	cause   string // RefusalCause of the refusal
	reason  Reason
	detail  string
}

func hostileCases() []hostileCase {
	nan := math.NaN()
	return []hostileCase{
		{name: "infinite loop in score", module: func() []byte { return wasmtest.Hostile{Score: wasmtest.Code{}.Spin().I32(0)}.Module() },
			reason: ReasonTimeout, detail: "BatchTimeout"},
		{name: "infinite loop in cdp_init", module: func() []byte { return wasmtest.Hostile{Init: wasmtest.Code{}.Spin().I32(0)}.Module() },
			refused: "init time limit", cause: "init"},
		{name: "infinite loop in _initialize", module: func() []byte { return wasmtest.Hostile{Initialize: wasmtest.Code{}.Spin()}.Module() },
			refused: "init time limit", cause: "init"},
		{name: "infinite loop in the start function", module: func() []byte { return wasmtest.Hostile{StartLoop: true}.Module() },
			refused: "init time limit", cause: "init"},
		// No loop anywhere: only a check at function entry stops these.
		{name: "exponential call tree in score", module: func() []byte { return callTreeIn("score") },
			reason: ReasonTimeout, detail: "BatchTimeout"},
		{name: "exponential call tree in cdp_init", module: func() []byte { return callTreeIn("cdp_init") },
			refused: "init time limit", cause: "init"},
		{name: "exponential call tree in _initialize", module: func() []byte { return callTreeIn("_initialize") },
			refused: "init time limit", cause: "init"},
		{name: "unbounded recursion", module: func() []byte {
			// cdp_score calls itself (function index 4: after the three
			// constant exports and cdp_alloc)
			return wasmtest.Hostile{Score: wasmtest.Code{}.Get(0).Call(4).Drop().I32(0)}.Module()
		}, reason: ReasonTrap, detail: "call depth over 10000 (Limits.MaxCallDepth)"},
		{name: "memory bomb", module: func() []byte {
			// grow 64 pages (4 MiB) at a time until refused, then trap (a runtime out of memory)
			return wasmtest.Hostile{Score: wasmtest.Code{}.Block().Loop().I32(64).MemGrow().I32(-1).I32Eq().BrIf(1).Br(0).End().End().Unreachable().I32(0)}.Module()
		}, reason: ReasonTrap},
		{name: "memory bomb that keeps trying", module: func() []byte {
			return wasmtest.Hostile{Score: wasmtest.Code{}.Loop().I32(1).MemGrow().Drop().Br(0).End().I32(0)}.Module()
		}, reason: ReasonTimeout},
		{name: "declared memory over the limit", module: func() []byte { return wasmtest.Hostile{MemMin: 4096}.Module() },
			limits: Limits{MemoryPages: 1024}, refused: "compile", cause: "compile"},
		{name: "trap on every call", module: func() []byte { return wasmtest.Hostile{Score: wasmtest.Code{}.Unreachable().I32(0)}.Module() },
			reason: ReasonTrap, detail: "unreachable"},
		{name: "NaN risk", module: func() []byte { return wasmtest.Hostile{After: wasmtest.Code{}.Get(2).F64(nan).StoreF64(0)}.Module() },
			reason: ReasonMalformed, detail: "risk outside [0, 1]"},
		{name: "risk above 1", module: func() []byte { return wasmtest.Hostile{After: wasmtest.Code{}.Get(2).F64(1.5).StoreF64(0)}.Module() },
			reason: ReasonMalformed, detail: "risk outside"},
		{name: "negative distance", module: func() []byte { return wasmtest.Hostile{After: wasmtest.Code{}.Get(2).F64(-1).StoreF64(16)}.Module() },
			reason: ReasonMalformed, detail: "dmin"},
		{name: "infinite distance", module: func() []byte {
			return wasmtest.Hostile{After: wasmtest.Code{}.Get(2).F64(math.Inf(1)).StoreF64(16)}.Module()
		},
			reason: ReasonMalformed, detail: "dmin"},
		{name: "tca outside the window", module: func() []byte { return wasmtest.Hostile{After: wasmtest.Code{}.Get(2).F64(31).StoreF64(8)}.Module() },
			reason: ReasonMalformed, detail: "tca"},
		{name: "flags without window", module: func() []byte { return wasmtest.Hostile{After: wasmtest.Code{}.Get(2).I32(1).Store32(40)}.Module() },
			reason: ReasonMalformed, detail: "conflict window"},
		{name: "too few results", module: func() []byte {
			return wasmtest.Hostile{OutCount: wasmtest.Code{}.Get(0).Load32(20).I32(1).I32Sub()}.Module()
		},
			reason: ReasonMalformed, detail: "out_count"},
		{name: "too many results", module: func() []byte {
			return wasmtest.Hostile{OutCount: wasmtest.Code{}.Get(0).Load32(20).I32(1).I32Add()}.Module()
		},
			reason: ReasonMalformed, detail: "out_count"},
		{name: "error status", module: func() []byte { return wasmtest.Hostile{Status: 4, ErrorMsg: "model exploded"}.Module() },
			reason: ReasonGuestError, detail: "ERR_INTERNAL: model exploded"},
		{name: "proc_exit in score", module: func() []byte {
			return wasmtest.Hostile{Imports: []wasmtest.Import{{Module: "wasi_snapshot_preview1", Name: "proc_exit", Params: []byte{wasmtest.TypeI32}}},
				Score: wasmtest.Code{}.I32(3).Call(0).I32(0)}.Module()
		}, reason: ReasonExit, detail: "exit code 3"},
		{name: "wrong ABI major", module: func() []byte { return wasmtest.Hostile{Version: 2 << 16}.Module() },
			refused: "plugin speaks ABI 2.0, host speaks 1.0", cause: "abi_version"},
		{name: "newer ABI minor", module: func() []byte { return wasmtest.Hostile{Version: 1<<16 | 9}.Module() },
			refused: "plugin needs ABI 1.9", cause: "abi_version"},
		{name: "missing cdp_alloc", module: func() []byte { return wasmtest.Hostile{NoAlloc: true}.Module() },
			refused: "missing export cdp_alloc", cause: "exports"},
		{name: "scorer without cdp_score", module: func() []byte { return wasmtest.Hostile{NoScore: true}.Module() },
			refused: "no cdp_score export", cause: "exports"},
		{name: "wrong export signature", module: func() []byte {
			return wasmtest.Hostile{NoScore: true, Extra: []wasmtest.Func{{Export: "cdp_score", Params: []byte{wasmtest.TypeI32, wasmtest.TypeI32}, Result: []byte{wasmtest.TypeI32}, Body: wasmtest.Code{}.I32(0)}}}.Module()
		}, refused: "export cdp_score has signature", cause: "exports"},
		{name: "WASI command", module: func() []byte { return wasmtest.Hostile{StartOnly: true}.Module() },
			refused: "reactor", cause: "exports"},
		{name: "over the size limit", module: func() []byte {
			return wasmtest.Hostile{Data: []wasmtest.Data{{Offset: 8192, Bytes: make([]byte, 40000)}}}.Module()
		}, limits: Limits{MaxModuleBytes: 32 << 10}, refused: "over the limit of 32768", cause: "too_large"},
		{name: "imports a host function not offered", module: func() []byte {
			return wasmtest.Hostile{Imports: []wasmtest.Import{{Module: "env", Name: "launch_missiles"}}}.Module()
		}, refused: "imports function env.launch_missiles", cause: "imports"},
		{name: "imports an unknown WASI function", module: func() []byte {
			return wasmtest.Hostile{Imports: []wasmtest.Import{{Module: "wasi_snapshot_preview1", Name: "sock_open_everything"}}}.Module()
		}, refused: "not offered", cause: "imports"},
		{name: "bad manifest", module: func() []byte {
			return wasmtest.Hostile{Manifest: `{"name":"bad name!","version":"1","kind":"scorer"}`}.Module()
		},
			refused: "manifest name", cause: "manifest"},
		{name: "stateful manifest", module: func() []byte {
			return wasmtest.Hostile{Manifest: `{"name":"s","version":"1","kind":"scorer","stateful":true}`}.Module()
		}, refused: "stateful", cause: "manifest"},
		{name: "not a module", module: func() []byte { return []byte("\x00asm\x01\x00\x00\x00garbage") }, refused: "malformed module", cause: "compile"},
		// Modules of a few bytes whose declared counts would make wazero
		// allocate gigabytes (and the Go runtime end the process).
		{name: "import count bomb", module: func() []byte {
			return []byte{0, 'a', 's', 'm', 1, 0, 0, 0, 2, 5, 0xff, 0xff, 0xff, 0xff, 0x0f}
		}, refused: "imports declared", cause: "compile"},
		{name: "parameter count bomb", module: func() []byte {
			return []byte{0, 'a', 's', 'm', 1, 0, 0, 0, 1, 7, 1, 0x60, 0x80, 0x80, 0x80, 0x80, 0x02}
		}, refused: "parameters or results declared", cause: "compile"},
		{name: "locals bomb", module: func() []byte {
			return []byte{0, 'a', 's', 'm', 1, 0, 0, 0,
				1, 4, 1, 0x60, 0, 0, // type () -> ()
				3, 2, 1, 0, // one function of type 0
				10, 10, 1, 8, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x7f, 0x0b} // 1 body: 1 group of 2^32-1 i32
		}, refused: "locals", cause: "compile"},
		{name: "table bomb", module: func() []byte {
			return []byte{0, 'a', 's', 'm', 1, 0, 0, 0, 4, 7, 1, 0x70, 0, 0x80, 0x80, 0x80, 0x40}
		}, refused: "entries together", cause: "compile"},
		{name: "name section bomb", module: func() []byte {
			return []byte{0, 'a', 's', 'm', 1, 0, 0, 0, 0, 13, 4, 'n', 'a', 'm', 'e', 1, 6, 0xff, 0xff, 0xff, 0xff, 0x0f, 0}
		}, refused: "names declared", cause: "compile"},
	}
}

// TestHostileModules: each hostile module is refused at load, or contained
// batch after batch: the host keeps serving, the batch is scored by the
// fallback (the builtin), and the failure is counted with its reason.
// callTreeIn returns a zero scorer whose export where ("score", "cdp_init"
// or "_initialize") makes a depth-48 binary tree of calls (2^48 calls, no
// loop): it never returns unless stopped at a function entry.
func callTreeIn(where string) []byte {
	var h wasmtest.Hostile
	set := func(c wasmtest.Code) {
		switch where {
		case "score":
			h.After = c
		case "cdp_init":
			h.Init = c.I32(0)
		case "_initialize":
			h.Initialize = c
		}
	}
	set(wasmtest.Code{}) // so that ExtraIndex counts the export
	first := h.ExtraIndex()
	set(wasmtest.Code{}.Call(first))
	h.Extra = wasmtest.CallTree(first, 48)
	return h.Module()
}

func TestHostileModules(t *testing.T) {
	vs, ps := traffic(11, 64, 300, 800)
	prm := abi.Params{Horizon: 30, MinRisk: 0.3}
	want := make([]abi.Result, len(ps))
	if err := (builtin.Scorer{}).Score(ctx, prm, vs, ps, want); err != nil {
		t.Fatal(err)
	}
	r := mustRuntime(t)
	for _, c := range hostileCases() {
		// Not parallel: the time limits are wall-clock, and spinning modules
		// running beside each other on two cores would starve the others.
		t.Run(c.name, func(t *testing.T) {
			lim := c.limits
			// Short limits where a timeout is the expected outcome; generous
			// ones elsewhere, so a loaded machine cannot turn a trap into a
			// timeout.
			lim.BatchTimeout, lim.InitTimeout = 2*time.Second, 2*time.Second
			if c.reason == ReasonTimeout {
				lim.BatchTimeout = 50 * time.Millisecond
			}
			if strings.Contains(c.refused, "init time limit") {
				lim.InitTimeout = 300 * time.Millisecond
			}
			if lim.MemoryPages == 0 {
				lim.MemoryPages = 256
			}
			logger, logs := newTestLogger()
			opts := Options{Limits: lim, Fallback: builtin.Scorer{}, Instances: 1, Logger: logger, Breaker: Breaker{Failures: 3}}
			start := time.Now()
			p, err := r.Load(ctx, c.module(), opts)
			if c.refused != "" {
				if !IsRefused(err) || !strings.Contains(err.Error(), c.refused) {
					t.Fatalf("Load: got %v, want refusal containing %q", err, c.refused)
				}
				if got := RefusalCause(err); got != c.cause {
					t.Fatalf("refusal cause %q, want %q (%v)", got, c.cause, err)
				}
				if d := time.Since(start); d > 3*time.Second {
					t.Fatalf("refusal took %v", d)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			defer p.Close(ctx)
			for batch := 0; batch < 4; batch++ {
				got := make([]abi.Result, len(ps))
				id, err := p.ScoreModel(ctx, prm, vs, ps, got)
				if err != nil {
					t.Fatalf("batch %d: %v", batch, err)
				}
				if id != (builtin.Scorer{}).Model() {
					t.Fatalf("batch %d scored by %+v, want the builtin fallback", batch, id)
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("batch %d pair %d: fallback result %+v, want %+v", batch, i, got[i], want[i])
					}
				}
			}
			s := p.Stats()
			// Three failures open the breaker; the fourth batch goes straight to the fallback.
			if s.Failures != 3 || s.FallbackBatches != 4 || s.SkippedBatches != 1 || !s.BreakerOpen {
				t.Fatalf("stats: %+v", s)
			}
			byReason := map[Reason]uint64{ReasonTimeout: s.FailuresByReason.Timeout, ReasonTrap: s.FailuresByReason.Trap,
				ReasonExit: s.FailuresByReason.Exit, ReasonGuestError: s.FailuresByReason.GuestError,
				ReasonMalformed: s.FailuresByReason.Malformed}
			if byReason[c.reason] != 3 {
				t.Fatalf("failures by reason %+v, want 3 x %s", s.FailuresByReason, c.reason)
			}
			last := s.LastFailures[len(s.LastFailures)-1]
			if last.Reason != c.reason.String() || !strings.Contains(last.Error, c.detail) {
				t.Fatalf("last failure %+v, want reason %s with %q", last, c.reason, c.detail)
			}
			if s.InstancesDiscarded != 3 {
				t.Fatalf("discarded %d instances, want 3", s.InstancesDiscarded)
			}
			if !strings.Contains(logs.String(), "breaker open") {
				t.Fatalf("breaker opening not logged:\n%s", logs)
			}
			// A stopped runaway module must not stall the process at the next GC.
			gc := time.Now()
			runtime.GC()
			if d := time.Since(gc); d > 2*time.Second {
				t.Fatalf("GC after the failure took %v", d)
			}
		})
	}
}

// TestFailureWithoutFallback returns the typed failure.
func TestFailureWithoutFallback(t *testing.T) {
	p := mustLoad(t, mustRuntime(t), wasmtest.Hostile{Score: wasmtest.Code{}.Unreachable().I32(0)}.Module(), Options{Instances: 1})
	vs, ps := traffic(1, 8, 8, 100)
	_, err := p.ScoreModel(ctx, abi.Params{Horizon: 30, MinRisk: 0.3}, vs, ps, make([]abi.Result, len(ps)))
	f, ok := IsFailure(err)
	if !ok || f.Reason != ReasonTrap || !errors.Is(err, ErrTrap) {
		t.Fatalf("got %v", err)
	}
}

// TestBreakerReset puts a plugin back in service.
func TestBreakerReset(t *testing.T) {
	// A scorer that fails only while memory page 18 is absent... simpler: a
	// module that always traps, to open the breaker, then Reset.
	p := mustLoad(t, mustRuntime(t), wasmtest.Hostile{Score: wasmtest.Code{}.Unreachable().I32(0)}.Module(),
		Options{Instances: 1, Fallback: builtin.Scorer{}, Breaker: Breaker{Failures: 2, Window: time.Minute}})
	vs, ps := traffic(1, 8, 8, 100)
	res := make([]abi.Result, len(ps))
	for i := 0; i < 3; i++ {
		if err := p.Score(ctx, abi.Params{Horizon: 30, MinRisk: 0.3}, vs, ps, res); err != nil {
			t.Fatal(err)
		}
	}
	if s := p.Stats(); !s.BreakerOpen || s.Failures != 2 || s.SkippedBatches != 1 || !strings.Contains(s.BreakerCause, "2 failures") {
		t.Fatalf("stats %+v", s)
	}
	p.Reset()
	if err := p.Score(ctx, abi.Params{Horizon: 30, MinRisk: 0.3}, vs, ps, res); err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.BreakerOpen || s.Failures != 3 {
		t.Fatalf("after reset: %+v", s)
	}
}

// TestGuestOutputRateLimited: a module printing a line per batch is logged
// up to the burst; the rest is dropped and counted.
func TestGuestOutputRateLimited(t *testing.T) {
	// iovec at 3000: {ptr 3100, len 6}; "hello\n" at 3100; nwritten at 3016.
	iov := []byte{0x1c, 0x0c, 0, 0, 6, 0, 0, 0}
	mod := wasmtest.Hostile{
		Imports: []wasmtest.Import{{Module: "wasi_snapshot_preview1", Name: "fd_write", Params: []byte{wasmtest.TypeI32, wasmtest.TypeI32, wasmtest.TypeI32, wasmtest.TypeI32}, Result: []byte{wasmtest.TypeI32}}},
		Data:    []wasmtest.Data{{Offset: 3000, Bytes: iov}, {Offset: 3100, Bytes: []byte("hello\n")}},
		After:   wasmtest.Code{}.I32(1).I32(3000).I32(1).I32(3016).Call(0).Drop(),
	}.Module()
	logger, logs := newTestLogger()
	p := mustLoad(t, mustRuntime(t), mod, Options{Instances: 1, Logger: logger, LogBurst: 5, LogLinesPerSecond: 0.001})
	vs, ps := traffic(1, 8, 8, 100)
	res := make([]abi.Result, len(ps))
	for i := 0; i < 50; i++ {
		if err := p.Score(ctx, abi.Params{Horizon: 30, MinRisk: 0.3}, vs, ps, res); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(logs.String(), "line=hello"); n != 5 {
		t.Fatalf("%d lines logged, want the burst of 5:\n%s", n, logs)
	}
	if d := p.Stats().GuestLinesDropped; d != 45 {
		t.Fatalf("dropped %d, want 45", d)
	}
}

// TestConfigReachesInit: cdp_init receives the JSON config, and a refusal
// from cdp_init refuses the module.
func TestConfigReachesInit(t *testing.T) {
	// cdp_init(ptr, len) returns 0 only when len == 13 (`{"limit": 10}`).
	mod := wasmtest.Hostile{Init: wasmtest.Code{}.Get(1).I32(13).I32Eq().IfElseI32(wasmtest.Code{}.I32(0), wasmtest.Code{}.I32(2))}.Module()
	r := mustRuntime(t)
	if _, err := r.Load(ctx, mod, Options{Config: []byte(`{"limit": 10}`)}); err != nil {
		t.Fatal(err)
	}
	_, err := r.Load(ctx, mod, Options{Config: []byte(`{"limit": 100}`)})
	if !IsRefused(err) || !strings.Contains(err.Error(), "ERR_CONFIG") {
		t.Fatalf("got %v", err)
	}
	// No cdp_init: a non-empty config is refused.
	_, err = r.Load(ctx, wasmtest.Hostile{}.Module(), Options{Config: []byte(`{"x":1}`)})
	if !IsRefused(err) || !strings.Contains(err.Error(), "takes no configuration") {
		t.Fatalf("got %v", err)
	}
}

// TestConcurrentScore hammers one plugin from more goroutines than it has
// instances; every result must match the builtin.
func TestConcurrentScore(t *testing.T) {
	p := mustLoad(t, mustRuntime(t), examples.Module(t, "go-cpa"), Options{Instances: 2})
	prm := abi.Params{Horizon: 30, MinRisk: 0.3}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			vs, ps := traffic(uint64(g), 200, 500, 1000)
			want := make([]abi.Result, len(ps))
			got := make([]abi.Result, len(ps))
			_ = (builtin.Scorer{}).Score(ctx, prm, vs, ps, want)
			for k := 0; k < 20; k++ {
				if err := p.Score(ctx, prm, vs, ps, got); err != nil {
					errs <- err
					return
				}
				for i := range got {
					if got[i] != want[i] {
						errs <- errors.New("mismatch under concurrency")
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if s := p.Stats(); s.InstancesCreated > 2 {
		t.Fatalf("created %d instances with a pool of 2", s.InstancesCreated)
	}
}

// TestScoreDoesNotAllocate: the host side of a batch allocates nothing in
// steady state. wazero itself allocates per call when deadline enforcement
// is on (it starts a goroutine that watches the context), so the bound is
// what a bare call of the same export costs.
func TestScoreDoesNotAllocate(t *testing.T) {
	mod := examples.Module(t, "c-cpa")
	p := mustLoad(t, mustRuntime(t), mod, Options{Instances: 1})
	vs, ps := traffic(5, 2000, 1024, 3000)
	res := make([]abi.Result, len(ps))
	prm := abi.Params{Horizon: 30, MinRisk: 0.3}
	if err := p.Score(ctx, prm, vs, ps, res); err != nil {
		t.Fatal(err)
	}
	full := testing.AllocsPerRun(50, func() {
		if err := p.Score(ctx, prm, vs, ps, res); err != nil {
			t.Fatal(err)
		}
	})
	in, err := p.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bare := testing.AllocsPerRun(50, func() {
		if _, err := in.call("abi", in.mod.ExportedFunction("cdp_abi_version"), 0); err != nil {
			t.Fatal(err)
		}
	})
	p.release(in, nil)
	t.Logf("allocations per batch: %v (a bare wazero call: %v)", full, bare)
	if full > bare {
		t.Fatalf("Score allocates %v per batch, a bare guest call %v", full, bare)
	}
}

// TestPredictorRefusedAndFallback: a scorer-only plugin asked to predict
// hands the batch to the fallback predictor.
func TestPredictUsesFallbackForScorerOnlyPlugin(t *testing.T) {
	p := mustLoad(t, mustRuntime(t), wasmtest.Hostile{}.Module(), Options{FallbackPredictor: builtin.Predictor{}})
	vs, _ := traffic(1, 10, 1, 100)
	boxes := make([]abi.Box, len(vs))
	id, err := p.PredictModel(ctx, abi.Params{Horizon: 30}, vs, boxes, nil)
	if err != nil || id != (builtin.Predictor{}).Model() {
		t.Fatalf("id %+v err %v", id, err)
	}
	if !boxes[3].Contains(vs[3].X, vs[3].Y, vs[3].Z) {
		t.Fatal("fallback did not predict")
	}
}

// TestCompilationCacheKeyedBySettings: the same module under another memory
// limit is compiled into another cache, on disk under its own directory.
func TestCompilationCacheKeyedBySettings(t *testing.T) {
	dir := t.TempDir()
	r, err := NewRuntime(RuntimeConfig{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	mod := wasmtest.Hostile{}.Module()
	mustLoad(t, r, mod, Options{Limits: Limits{MemoryPages: 512}})
	mustLoad(t, r, mod, Options{Limits: Limits{MemoryPages: 1024}})
	if len(r.caches) != 2 {
		t.Fatalf("%d caches, want 2", len(r.caches))
	}
	k1, k2 := settingsKey(Limits{MemoryPages: 512}), settingsKey(Limits{MemoryPages: 1024})
	if k1 == k2 || !strings.Contains(k1, "close_on_context_done=true") {
		t.Fatalf("keys %q %q", k1, k2)
	}
}

// TestMalformedPrediction: a predictor whose boxes miss their vehicles is
// contained like a bad scorer: the builtin predictor answers instead.
func TestMalformedPrediction(t *testing.T) {
	// cdp_predict: out_count = n_vehicles, boxes left as they are (zero).
	mod := wasmtest.Hostile{
		Manifest: `{"name":"lazy","version":"1","kind":"predictor"}`,
		NoScore:  true,
		Extra: []wasmtest.Func{{Export: "cdp_predict", Params: []byte{wasmtest.TypeI32}, Result: []byte{wasmtest.TypeI32},
			Body: wasmtest.Code{}.Get(0).Get(0).Load32(16).Store32(52).I32(0)}},
	}.Module()
	p := mustLoad(t, mustRuntime(t), mod, Options{Instances: 1, FallbackPredictor: builtin.Predictor{}, Logger: discardLogger()})
	vs, _ := traffic(2, 40, 1, 1000)
	prm := abi.Params{Horizon: 30, MinRisk: 0.3, Samples: 2}
	boxes := make([]abi.Box, len(vs))
	samples := make([]abi.Point, 2*len(vs))
	id, err := p.PredictModel(ctx, prm, vs, boxes, samples)
	if err != nil || id != (builtin.Predictor{}).Model() {
		t.Fatalf("id %+v, err %v", id, err)
	}
	want := make([]abi.Box, len(vs))
	_ = (builtin.Predictor{}).Predict(ctx, prm, vs, want, make([]abi.Point, 2*len(vs)))
	if boxes[7] != want[7] {
		t.Fatalf("box 7 = %+v, want the builtin's %+v", boxes[7], want[7])
	}
	s := p.Stats()
	if s.FailuresByReason.Malformed != 1 || !strings.Contains(s.LastFailures[0].Error, "does not contain the current position") {
		t.Fatalf("stats %+v", s)
	}
}

// TestMissingExportsRefusedBeforeCompiling: a module without the plugin
// exports is refused from its export section, with the same message every
// time (the first missing export in name order), and a large one without
// them is refused before any compilation.
func TestMissingExportsRefusedBeforeCompiling(t *testing.T) {
	r := mustRuntime(t)
	bare := (&wasmtest.Module{MemMin: 1, MemMax: -1, Funcs: []wasmtest.Func{{Export: "other"}}}).Bytes()
	for i := 0; i < 20; i++ {
		_, err := r.Load(ctx, bare, Options{})
		if !IsRefused(err) || !strings.HasSuffix(err.Error(), "missing export cdp_abi_version") {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	// 4 MiB of code, no cdp_* exports: refused without compiling it.
	big := wasmtest.Module{MemMin: 1, MemMax: -1}
	for i := 0; i < 64; i++ {
		body := wasmtest.Code{}
		for len(body) < 64<<10 {
			body = body.I32(1).Drop()
		}
		big.Funcs = append(big.Funcs, wasmtest.Func{Body: body})
	}
	_, err := r.Load(ctx, big.Bytes(), Options{})
	if !IsRefused(err) || !strings.Contains(err.Error(), "missing export") {
		t.Fatalf("big module: %v", err)
	}
	if st := r.compiledModules(); st != 0 {
		t.Fatalf("%d modules compiled for refused ones", st)
	}
}
