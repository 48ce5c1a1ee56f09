package models

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/builtin"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/plugins"
	"github.com/collision-detection-platform/distributed-platform/plugins/wasmtest"
)

// TestUploadRefusals: each bad module is refused with its cause and a
// message that names what is wrong, and nothing is stored.
func TestUploadRefusals(t *testing.T) {
	ccpa := example(t, "c-cpa")
	m := newManager(t, newEngine(t, nil), t.TempDir(), func(c *Config) {
		c.Options.Limits = plugins.Limits{MaxModuleBytes: 64 << 10, InitTimeout: 300 * time.Millisecond}
	})
	big := wasmtest.Hostile{Data: []wasmtest.Data{{Offset: 8192, Bytes: make([]byte, 70<<10)}}}.Module()
	cases := []struct {
		name   string
		module []byte
		kind   string
		cause  string
		want   string
	}{
		{"not wasm", []byte("#!/bin/sh\necho hello\n"), "scorer", RefusedNotWasm, "magic bytes"},
		{"empty", nil, "scorer", RefusedNotWasm, "empty"},
		{"truncated", ccpa[:len(ccpa)/2], "scorer", RefusedCompile, "section"},
		{"over the size limit", big, "scorer", RefusedTooLarge, "over the limit of 65536 (plugins.limits.max_module_bytes)"},
		{"wrong ABI major", wasmtest.Hostile{Version: 2 << 16}.Module(), "scorer", RefusedABIVersion, "plugin speaks ABI 2.0, host speaks 1.0"},
		{"newer ABI minor", wasmtest.Hostile{Version: 1<<16 | 7}.Module(), "scorer", RefusedABIVersion, "plugin needs ABI 1.7"},
		{"missing export", wasmtest.Hostile{NoAlloc: true}.Module(), "scorer", RefusedExports, "missing export cdp_alloc"},
		{"scorer without cdp_score", wasmtest.Hostile{NoScore: true}.Module(), "scorer", RefusedExports, "no cdp_score export"},
		{"failing conformance", wasmtest.Hostile{Manifest: `{"name":"zero","version":"1","kind":"scorer","matches_builtin":true}`}.Module(),
			"scorer", RefusedConformance, "risk"},
		{"looping init", wasmtest.Hostile{Init: wasmtest.Code{}.Spin().I32(0)}.Module(), "scorer", RefusedInit, "init time limit of 300ms"},
		{"looping _initialize", wasmtest.Hostile{Initialize: wasmtest.Code{}.Spin()}.Module(), "scorer", RefusedInit, "init time limit"},
		{"imports a host function", wasmtest.Hostile{Imports: []wasmtest.Import{{Module: "env", Name: "launch"}}}.Module(), "scorer", RefusedImports, "env.launch"},
		{"kind mismatch", wasmtest.ZeroScorer("z", "1"), "predictor", RefusedKind, `declared kind "predictor", but the manifest says "scorer"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := m.Upload(context.Background(), Upload{Module: c.module, Kind: c.kind})
			re, ok := IsRefused(err)
			if !ok || !errors.Is(err, ErrRefused) {
				t.Fatalf("got %v, want a refusal", err)
			}
			if re.Cause != c.cause || !strings.Contains(re.Message, c.want) {
				t.Fatalf("cause %q message %q; want %q containing %q", re.Cause, re.Message, c.cause, c.want)
			}
			if testing.Verbose() {
				t.Logf("%s: %s", re.Cause, re.Message)
			}
			if c.cause == RefusedConformance {
				if len(re.Vectors) == 0 || re.Vectors[0].Vector == "" || re.Vectors[0].Detail == "" {
					t.Fatalf("no failing vector named: %+v", re)
				}
			}
		})
	}
	if n := len(m.List()); n != 0 {
		t.Fatalf("%d plugins stored after refusals", n)
	}
	// Bad requests are not refusals of the module.
	if _, _, err := m.Upload(context.Background(), Upload{Module: ccpa, Kind: "risk"}); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("unknown kind: %v", err)
	}
	if _, _, err := m.Upload(context.Background(), Upload{Module: ccpa, Kind: "scorer", Config: []byte("{")}); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("bad config: %v", err)
	}
	if _, _, err := m.Upload(context.Background(), Upload{Module: ccpa, Kind: "scorer", Version: "9.9"}); err == nil || !strings.Contains(err.Error(), "declared version") {
		t.Fatalf("version mismatch: %v", err)
	}
}

// TestLifecycle: upload, prefix lookup, shadow, activate, rollback, delete,
// and the conflicts on the way.
func TestLifecycle(t *testing.T) {
	eng := newEngine(t, nil)
	m := newManager(t, eng, "", nil)
	ctx := context.Background()
	a := mustUpload(t, m, wasmtest.ZeroScorer("zero-a", "1.0.0"), "scorer")
	b := mustUpload(t, m, wasmtest.ZeroScorer("zero-b", "2.0.0"), "scorer")
	if a.State != StateStored || a.Name != "zero-a" || a.Kind != "scorer" || a.UploadedBy.RemoteAddr != "test" {
		t.Fatalf("record %+v", a)
	}
	// Same module again: the same record; with another config: conflict.
	again := mustUpload(t, m, wasmtest.ZeroScorer("zero-a", "1.0.0"), "scorer")
	if again.ID != a.ID || len(m.List()) != 2 {
		t.Fatalf("re-upload made a new record")
	}
	if _, err := m.Get(a.ID[:4]); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("short prefix: %v", err)
	}
	if in, err := m.Get(strings.ToUpper(a.ID[:10])); err != nil || in.ID != a.ID {
		t.Fatalf("prefix lookup: %v", err)
	}
	if _, err := m.Get("0123456789abcdef"); !errors.Is(err, ErrNotFound) && !strings.HasPrefix(a.ID, "0123456789abcdef") {
		t.Fatalf("unknown id: %v", err)
	}
	if _, err := m.Rollback(ctx, "scorer", Actor{}); !errors.Is(err, ErrConflict) {
		t.Fatalf("rollback with nothing active: %v", err)
	}

	if _, err := m.Shadow(ctx, b.ID, ShadowRequest{Share: 1}); err != nil {
		t.Fatal(err)
	}
	if mm := eng.Models(); mm.Shadow == nil || mm.Shadow.Model().SHA256 != b.ID || mm.ShadowShare != 1 {
		t.Fatalf("engine shadow %+v", mm)
	}
	if _, err := m.Shadow(ctx, b.ID, ShadowRequest{Share: 1.5}); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("share 1.5: %v", err)
	}

	acts, err := m.Activate(ctx, a.ID, Actor{RemoteAddr: "1.2.3.4:5", RequestID: "r1"})
	if err != nil || len(acts) != 1 || acts[0].From.Name != "builtin-cpa" || acts[0].To.ID != a.ID || acts[0].RequestID != "r1" {
		t.Fatalf("activate: %v %+v", err, acts)
	}
	mm := eng.Models()
	if mm.Scorer.Model().SHA256 != a.ID || len(mm.ScorerFallback) != 1 || mm.ScorerFallback[0].Model() != (builtin.Scorer{}).Model() {
		t.Fatalf("models after activate: scorer %+v fallbacks %d", mm.Scorer.Model(), len(mm.ScorerFallback))
	}
	if err := m.Delete(ctx, a.ID, Actor{}); !errors.Is(err, ErrConflict) {
		t.Fatalf("delete the active plugin: %v", err)
	}
	// Promote the shadow: a retires and becomes the first fallback.
	if _, err := m.Activate(ctx, b.ID, Actor{}); err != nil {
		t.Fatal(err)
	}
	mm = eng.Models()
	if mm.Scorer.Model().SHA256 != b.ID || mm.Shadow != nil || len(mm.ScorerFallback) != 2 || mm.ScorerFallback[0].Model().SHA256 != a.ID {
		t.Fatalf("models after promotion: %+v", mm)
	}
	if in, _ := m.Get(a.ID); in.State != StateRetired {
		t.Fatalf("a is %s", in.State)
	}
	if in, _ := m.Get(b.ID); in.State != StateActive || in.Shadow == nil {
		t.Fatalf("b: state %s shadow %+v", in.State, in.Shadow)
	}
	act, err := m.Rollback(ctx, "", Actor{})
	if err != nil || act.From.ID != b.ID || act.To.ID != a.ID || eng.Models().Scorer.Model().SHA256 != a.ID {
		t.Fatalf("rollback: %v %+v", err, act)
	}
	act, err = m.Rollback(ctx, "scorer", Actor{})
	if err != nil || act.To.ID != "" || eng.Models().Scorer != (builtin.Scorer{}) {
		t.Fatalf("second rollback: %v %+v", err, act)
	}
	// Rolling back onto the plugin in shadow ends its shadow.
	m.Activate(ctx, a.ID, Actor{})
	if _, err := m.Shadow(ctx, b.ID, ShadowRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Activate(ctx, b.ID, Actor{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Shadow(ctx, a.ID, ShadowRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Rollback(ctx, "scorer", Actor{}); err != nil {
		t.Fatal(err)
	}
	if mm := eng.Models(); mm.Scorer.Model().SHA256 != a.ID || mm.Shadow != nil {
		t.Fatalf("rollback onto the shadow plugin: scorer %+v, shadow %v", mm.Scorer.Model(), mm.Shadow)
	}
	if in, _ := m.Get(a.ID); in.State != StateActive || m.Status().Shadow != nil {
		t.Fatalf("a is %s, status shadow %+v", in.State, m.Status().Shadow)
	}
	if _, err := m.Rollback(ctx, "scorer", Actor{}); err != nil {
		t.Fatal(err)
	}
	if err := m.Delete(ctx, b.ID, Actor{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get(b.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted plugin: %v", err)
	}
	if h := m.History(); len(h) != 8 {
		t.Fatalf("%d activations, want 8", len(h))
	}
	st := m.Status()
	if st.Active[KindScorer].Name != "builtin-cpa" || st.Activations != 8 {
		t.Fatalf("status %+v", st)
	}
}

// TestRestart: a new manager over the same data directory brings back the
// active plugin, its fallback, the states and the history.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	eng := newEngine(t, nil)
	m := newManager(t, eng, dir, nil)
	ccpa := mustUpload(t, m, example(t, "c-cpa"), "scorer")
	zero := mustUpload(t, m, wasmtest.ZeroScorer("zero", "1"), "scorer")
	if _, err := m.Activate(ctx, zero.ID, Actor{RemoteAddr: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Activate(ctx, ccpa.ID, Actor{RemoteAddr: "b"}); err != nil {
		t.Fatal(err)
	}
	hist := m.History()
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}

	eng2 := newEngine(t, nil)
	m2 := newManager(t, eng2, dir, nil)
	mm := eng2.Models()
	if mm.Scorer.Model().SHA256 != ccpa.ID {
		t.Fatalf("after restart the scorer is %+v, want c-cpa", mm.Scorer.Model())
	}
	if len(mm.ScorerFallback) < 2 || mm.ScorerFallback[0].Model().SHA256 != zero.ID {
		t.Fatalf("after restart the fallback chain is lost")
	}
	h2 := m2.History()
	if len(h2) != len(hist) || h2[1].To.ID != ccpa.ID || h2[1].RemoteAddr != "b" {
		t.Fatalf("history after restart: %+v", h2)
	}
	in, err := m2.Get(ccpa.ID)
	if err != nil || in.State != StateActive || len(in.Transitions) != 2 || in.Name != "cpa-c" {
		t.Fatalf("record after restart: %v %+v", err, in)
	}
	// The restored plugin scores.
	vs := []abi.Vehicle{{X: 0, Y: 0, Alt: 100, Z: 100, T: 1e9, HSep: 50, VSep: 25}, {X: 30, Y: 0, Alt: 100, Z: 100, T: 1e9, HSep: 50, VSep: 25}}
	res := make([]abi.Result, 1)
	id, err := mm.Scorer.(engine.ModelScorer).ScoreModel(ctx, abi.Params{Horizon: 30, MinRisk: 0.3}, vs, []abi.Pair{{A: 0, B: 1}}, res)
	if err != nil || id.SHA256 != ccpa.ID || res[0].Risk != 1 {
		t.Fatalf("restored plugin: %v %+v %+v", err, id, res[0])
	}
	if _, err := m2.Rollback(ctx, "scorer", Actor{}); err != nil || eng2.Models().Scorer.Model().SHA256 != zero.ID {
		t.Fatalf("rollback after restart: %v", err)
	}
}

// pairsAt returns n pairs of vehicles 30 m apart (in loss of separation) at
// time t, as engine updates.
func pairsAt(n int, t float64) []engine.Update {
	ups := make([]engine.Update, 0, 2*n)
	for i := 0; i < n; i++ {
		x := float64(i) * 2000
		for j := 0; j < 2; j++ {
			v := abi.Vehicle{X: x + 30*float64(j), Y: 0, Z: 100, Alt: 100, VX: 5, T: t, HSep: 50, VSep: 25, Radius: 1}
			ups = append(ups, engine.Update{ID: []byte(string(rune('a'+j)) + itoa(i)), V: v})
		}
	}
	return ups
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// TestAutomaticRollback: a plugin that passes validation but traps on live
// traffic trips its breaker; the manager rolls back to the last good plugin,
// marks it broken and records the event, without a batch going unscored.
func TestAutomaticRollback(t *testing.T) {
	eng := newEngine(t, nil)
	m := newManager(t, eng, t.TempDir(), func(c *Config) {
		c.Options.Breaker = plugins.Breaker{Failures: 3, Window: time.Minute}
	})
	ctx := context.Background()
	good := mustUpload(t, m, example(t, "c-cpa"), "scorer")
	bomb := mustUpload(t, m, wasmtest.TimeBomb("bomb", 1.75e9), "scorer")
	if _, err := m.Activate(ctx, good.ID, Actor{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Activate(ctx, bomb.ID, Actor{}); err != nil {
		t.Fatal(err)
	}
	var models []string
	eng.AddSink(engine.SinkFunc(func(evs []engine.Event) {
		for _, e := range evs {
			models = append(models, e.Model.Name)
		}
	}))
	deadline := time.Now().Add(10 * time.Second)
	t0 := 1.8e9
	for i := 0; m.Status().AutoRollbacks == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("no automatic rollback; bomb stats %+v", m.List())
		}
		if err := eng.TrySubmit(pairsAt(5, t0+float64(i))); err != nil {
			t.Fatal(err)
		}
		eng.Tick()
		time.Sleep(5 * time.Millisecond)
	}
	st := m.Status()
	if st.Active[KindScorer].ID != good.ID || st.LastAuto == nil || !strings.Contains(st.LastAuto.Reason, "breaker open") ||
		st.LastAuto.From.ID != bomb.ID {
		t.Fatalf("status %+v", st)
	}
	in, _ := m.Get(bomb.ID)
	if in.State != StateBroken || in.Counters.Failures < 3 || in.Counters.FailuresByReason.Trap < 3 || len(in.Counters.LastFailures) == 0 {
		t.Fatalf("bomb after rollback: state %s counters %+v", in.State, in.Counters)
	}
	if eng.Models().Scorer.Model().SHA256 != good.ID {
		t.Fatalf("engine scorer %+v", eng.Models().Scorer.Model())
	}
	// While the bomb failed, its batches went to the last good plugin: every
	// event names c-cpa ("cpa"), none the bomb or "none".
	if len(models) == 0 {
		t.Fatal("no events")
	}
	for _, n := range models {
		if n != "cpa-c" {
			t.Fatalf("an event names %q", n)
		}
	}
	h := m.History()
	if last := h[len(h)-1]; last.By != "system" || !strings.HasPrefix(last.Reason, "automatic rollback") {
		t.Fatalf("history %+v", last)
	}
	// A rollback never lands on a broken plugin.
	if _, err := m.Rollback(ctx, "scorer", Actor{}); err != nil || eng.Models().Scorer != (builtin.Scorer{}) {
		t.Fatalf("rollback: %v, scorer %+v", err, eng.Models().Scorer.Model())
	}
}

// TestShadowComparison: a zero scorer in shadow beside the builtin disagrees
// on every conflicting pair by 1 and misses each risk; the comparison says so,
// and the risk events stay the builtin's.
func TestShadowComparison(t *testing.T) {
	eng := newEngine(t, nil)
	m := newManager(t, eng, "", nil)
	ctx := context.Background()
	zero := mustUpload(t, m, wasmtest.ZeroScorer("zero", "1"), "scorer")
	if _, err := m.Shadow(ctx, zero.ID, ShadowRequest{Share: 1}); err != nil {
		t.Fatal(err)
	}
	var events int
	eng.AddSink(engine.SinkFunc(func(evs []engine.Event) {
		for _, e := range evs {
			if e.Model != (builtin.Scorer{}).Model() {
				t.Errorf("event names %+v", e.Model)
			}
			if e.Type == engine.EventOpened {
				events++
			}
		}
	}))
	for i := 0; i < 3; i++ {
		if err := eng.TrySubmit(pairsAt(10, 1e9+float64(i))); err != nil {
			t.Fatal(err)
		}
		eng.Tick()
	}
	if events != 10 {
		t.Fatalf("%d events, want 10 opened", events)
	}
	in, _ := m.Get(zero.ID)
	s := in.Shadow
	if s == nil || s.Batches == 0 || s.Pairs < 30 || s.ActiveOnly < 30 || s.ShadowOnly != 0 || s.MaxDiff != 1 {
		t.Fatalf("shadow report %+v", s)
	}
	if s.Histogram[len(s.Histogram)-1] < 30 || s.NsPerPairActive <= 0 || s.NsPerPairShadow <= 0 {
		t.Fatalf("histogram %v, ns/pair %v %v", s.Histogram, s.NsPerPairActive, s.NsPerPairShadow)
	}
	if _, err := m.Shadow(ctx, zero.ID, ShadowRequest{Stop: true}); err != nil || eng.Models().Shadow != nil {
		t.Fatalf("stop: %v", err)
	}
	if in, _ := m.Get(zero.ID); in.State != StateStored || in.Shadow == nil || in.Shadow.Pairs != s.Pairs {
		t.Fatalf("after stop: %s %+v", in.State, in.Shadow)
	}
}

// TestObserveAllocs: comparing a shadow batch allocates nothing (it runs on
// the engine's workers for every shadowed batch).
func TestObserveAllocs(t *testing.T) {
	o := &shadowObserver{}
	n := 256
	b := &engine.ShadowBatch{Params: abi.Params{MinRisk: 0.3}, Pairs: make([]abi.Pair, n),
		ActiveResults: make([]abi.Result, n), ShadowResults: make([]abi.Result, n)}
	for i := range n {
		b.ActiveResults[i].Risk = math.Mod(float64(i)*0.37, 1)
		b.ShadowResults[i].Risk = math.Mod(float64(i)*0.41, 1)
	}
	if a := testing.AllocsPerRun(100, func() { o.Observe(b) }); a != 0 {
		t.Fatalf("%v allocations per Observe", a)
	}
	r := o.report()
	var sum uint64
	for _, h := range r.Histogram {
		sum += h
	}
	if sum != r.Pairs || r.Pairs != uint64(n)*101 {
		t.Fatalf("histogram sums to %d, pairs %d", sum, r.Pairs)
	}
}

// TestPredictorAndScorer: a predictor+scorer plugin becomes the active model
// of both kinds; rolling back one kind leaves the other.
func TestPredictorAndScorer(t *testing.T) {
	eng := newEngine(t, nil)
	m := newManager(t, eng, "", nil)
	ctx := context.Background()
	rec := mustUpload(t, m, example(t, "c-cpa"), "predictor+scorer")
	acts, err := m.Activate(ctx, rec.ID, Actor{})
	if err != nil || len(acts) != 2 {
		t.Fatalf("activate: %v %+v", err, acts)
	}
	mm := eng.Models()
	if mm.Predictor.Model().SHA256 != rec.ID || mm.Scorer.Model().SHA256 != rec.ID {
		t.Fatalf("models %+v %+v", mm.Predictor.Model(), mm.Scorer.Model())
	}
	for i := 0; i < 3; i++ {
		if err := eng.TrySubmit(pairsAt(5, 1e9+float64(i))); err != nil {
			t.Fatal(err)
		}
		if ts := eng.Tick(); ts.PredictErrors != 0 {
			t.Fatalf("predict errors %d", ts.PredictErrors)
		}
	}
	in, _ := m.Get(rec.ID)
	if in.Counters.Vehicles != 30 || in.Counters.Pairs == 0 || len(in.ActiveAs) != 2 {
		t.Fatalf("counters %+v active as %v", in.Counters, in.ActiveAs)
	}
	if _, err := m.Rollback(ctx, KindPredictor, Actor{}); err != nil {
		t.Fatal(err)
	}
	mm = eng.Models()
	if mm.Predictor != (builtin.Predictor{}) || mm.Scorer.Model().SHA256 != rec.ID {
		t.Fatalf("after predictor rollback: %+v %+v", mm.Predictor.Model(), mm.Scorer.Model())
	}
	if in, _ := m.Get(rec.ID); in.State != StateActive || len(in.ActiveAs) != 1 {
		t.Fatalf("state %s active as %v", in.State, in.ActiveAs)
	}
	if _, err := m.Shadow(ctx, rec.ID, ShadowRequest{}); !errors.Is(err, ErrConflict) {
		t.Fatalf("shadow of the active scorer: %v", err)
	}
}

// TestConcurrentAdmin hammers the manager from several goroutines while the
// engine ticks; afterwards the registry and the engine agree: the engine's
// scorer is the active one, exactly the active plugin is in state active,
// and the history has one entry per switch.
func TestConcurrentAdmin(t *testing.T) {
	eng := newEngine(t, nil)
	m := newManager(t, eng, t.TempDir(), nil)
	ctx := context.Background()
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, mustUpload(t, m, wasmtest.ZeroScorer("z"+itoa(i), "1"), "scorer").ID)
	}
	ids = append(ids, mustUpload(t, m, example(t, "c-cpa"), "scorer").ID)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			eng.TrySubmit(pairsAt(5, 1e9+float64(i)))
			eng.Tick()
		}
	}()
	var switches atomic.Int64
	var admins sync.WaitGroup
	for g := 0; g < 4; g++ {
		admins.Add(1)
		go func(g int) {
			defer admins.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for i := 0; i < 60; i++ {
				id := ids[r.IntN(len(ids))]
				switch r.IntN(5) {
				case 0, 1:
					if acts, err := m.Activate(ctx, id, Actor{}); err == nil {
						switches.Add(int64(len(acts)))
					}
				case 2:
					if _, err := m.Rollback(ctx, KindScorer, Actor{}); err == nil {
						switches.Add(1)
					}
				case 3:
					m.Shadow(ctx, id, ShadowRequest{Share: 0.5})
				case 4:
					m.List()
					m.Status()
				}
			}
		}(g)
	}
	admins.Wait()
	close(stop)
	wg.Wait()
	st := m.Status()
	active := st.Active[KindScorer].ID
	if got := eng.Models().Scorer.Model().SHA256; active != "" && got != active || active == "" && got != "builtin" {
		t.Fatalf("engine scores with %s, registry says %q", got, active)
	}
	for _, in := range m.List() {
		if (in.State == StateActive) != (in.ID == active) {
			t.Fatalf("plugin %s is %s, active is %q", in.ID[:8], in.State, active)
		}
	}
	if n := len(m.History()); int64(n) != switches.Load() {
		t.Fatalf("%d activations recorded, %d switches made", n, switches.Load())
	}
	if sh := eng.Models().Shadow; sh != nil && (st.Shadow == nil || sh.Model().SHA256 != st.Shadow.ID || sh.Model().SHA256 == active) {
		t.Fatalf("engine shadow %+v, registry %+v", sh.Model(), st.Shadow)
	}
}

// TestCloseLeavesNoGoroutine: the breaker watch stops with Close, and the
// plugins it loaded are closed.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	eng := newEngine(t, nil)
	before := runtime.NumGoroutine()
	m, err := New(context.Background(), Config{Engine: eng, Runtime: sharedRuntime(), Logger: quietLogger(),
		Options: plugins.Options{Instances: 1, Logger: quietLogger()}})
	if err != nil {
		t.Fatal(err)
	}
	rec := mustUpload(t, m, wasmtest.ZeroScorer("z", "1"), "scorer")
	if _, err := m.Activate(context.Background(), rec.ID, Actor{}); err != nil {
		t.Fatal(err)
	}
	if runtime.NumGoroutine() <= before {
		t.Fatal("no watch goroutine while open")
	}
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := m.Activate(context.Background(), rec.ID, Actor{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("activate after Close: %v", err)
	}
	// The engine still scores: the closed plugin's batches go to the base model.
	if err := eng.TrySubmit(pairsAt(2, 1e9)); err != nil {
		t.Fatal(err)
	}
	if ts := eng.Tick(); ts.Pairs == 0 {
		t.Fatal("no pairs scored")
	}
}

// copyDir copies the data directory as it is now: what a process that dies
// at this moment leaves behind.
func copyDir(tb testing.TB, src string) string {
	tb.Helper()
	dst := tb.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dst
}

// TestUncleanStopProbation: a scorer that was active when the process died
// without a clean stop is not trusted at the next start: the engine scores
// with the model before it while the suspect runs in shadow; a clean trial
// reactivates it, a failure in shadow rolls it back as broken, and a second
// unclean stop during the trial rolls it back at once. A clean stop leaves
// no trial.
func TestUncleanStopProbation(t *testing.T) {
	ctx := context.Background()
	trial := func(c *Config) { c.ShadowShare, c.ProbationBatches = 1, 3 }
	drive := func(t *testing.T, eng *engine.Engine, m *Manager, t0 float64, done func(Status) bool) Status {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for i := 0; ; i++ {
			if st := m.Status(); done(st) {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("trial did not end: %+v", m.Status())
			}
			if err := eng.TrySubmit(pairsAt(3, t0+float64(i))); err != nil {
				t.Fatal(err)
			}
			eng.Tick()
			time.Sleep(5 * time.Millisecond)
		}
	}
	onTrial := func(st Status) bool { return st.Probation != nil }

	dir := t.TempDir()
	m := newManager(t, newEngine(t, nil), dir, nil)
	good := mustUpload(t, m, wasmtest.ZeroScorer("zero", "1"), "scorer")
	next := mustUpload(t, m, wasmtest.ZeroScorer("zero", "2"), "scorer")
	bomb := mustUpload(t, m, wasmtest.TimeBomb("bomb", 1.75e9), "scorer")
	for _, id := range []string{good.ID, next.ID} {
		if _, err := m.Activate(ctx, id, Actor{}); err != nil {
			t.Fatal(err)
		}
	}
	crashedWithNext := copyDir(t, dir)

	t.Run("clean trial reactivates", func(t *testing.T) {
		eng := newEngine(t, nil)
		m2 := newManager(t, eng, copyDir(t, crashedWithNext), trial)
		st := m2.Status()
		if st.Probation[KindScorer].ID != next.ID || st.Active[KindScorer].ID != good.ID {
			t.Fatalf("status at start %+v", st)
		}
		if mm := eng.Models(); mm.Scorer.Model().SHA256 != good.ID || mm.Shadow == nil || mm.Shadow.Model().SHA256 != next.ID {
			t.Fatalf("engine at start: scorer %+v shadow %v", mm.Scorer.Model(), mm.Shadow)
		}
		st = drive(t, eng, m2, 1.7e9, func(st Status) bool { return !onTrial(st) })
		if st.Active[KindScorer].ID != next.ID || eng.Models().Scorer.Model().SHA256 != next.ID || eng.Models().Shadow != nil {
			t.Fatalf("after the trial: %+v", st)
		}
		h := m2.History()
		if last := h[len(h)-1]; last.To.ID != next.ID || !strings.Contains(last.Reason, "reactivated after its trial") {
			t.Fatalf("history %+v", last)
		}
	})

	t.Run("failure in shadow rolls back", func(t *testing.T) {
		if _, err := m.Activate(ctx, bomb.ID, Actor{}); err != nil {
			t.Fatal(err)
		}
		eng := newEngine(t, nil)
		m2 := newManager(t, eng, copyDir(t, dir), trial)
		if st := m2.Status(); st.Probation[KindScorer].ID != bomb.ID {
			t.Fatalf("status at start %+v", st)
		}
		st := drive(t, eng, m2, 1.8e9, func(st Status) bool { return !onTrial(st) })
		in, _ := m2.Get(bomb.ID)
		if st.Active[KindScorer].ID != next.ID || in.State != StateBroken || eng.Models().Scorer.Model().SHA256 != next.ID {
			t.Fatalf("after the failed trial: %+v, bomb %s", st, in.State)
		}
		if last := in.Transitions[len(in.Transitions)-1]; !strings.Contains(last.Reason, "failed its trial after an unclean stop: in shadow") {
			t.Fatalf("bomb's last transition %+v", last)
		}
	})

	t.Run("second unclean stop on trial", func(t *testing.T) {
		onTrialDir := copyDir(t, crashedWithNext)
		newManager(t, newEngine(t, nil), onTrialDir, trial) // starts the trial, then "dies"
		again := copyDir(t, onTrialDir)
		eng := newEngine(t, nil)
		m2 := newManager(t, eng, again, trial)
		st := m2.Status()
		in, _ := m2.Get(next.ID)
		if st.Probation != nil || st.Active[KindScorer].ID != good.ID || in.State != StateBroken {
			t.Fatalf("after a second unclean stop: %+v, next %s", st, in.State)
		}
	})

	t.Run("clean stop", func(t *testing.T) {
		d := t.TempDir()
		m2 := newManager(t, newEngine(t, nil), d, nil)
		mustUpload(t, m2, wasmtest.ZeroScorer("zero", "1"), "scorer")
		if _, err := m2.Activate(ctx, good.ID, Actor{}); err != nil {
			t.Fatal(err)
		}
		if err := m2.Close(ctx); err != nil {
			t.Fatal(err)
		}
		eng := newEngine(t, nil)
		m3 := newManager(t, eng, d, nil)
		if st := m3.Status(); st.Probation != nil || st.Active[KindScorer].ID != good.ID || eng.Models().Scorer.Model().SHA256 != good.ID {
			t.Fatalf("after a clean stop: %+v", st)
		}
	})
}

// TestUncleanStopProbationPredictor: a predictor active at an unclean stop
// starts on the base model and is reactivated once it passes the
// conformance vectors off the engine.
func TestUncleanStopProbationPredictor(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	m := newManager(t, newEngine(t, nil), dir, nil)
	pred := mustUpload(t, m, example(t, "turn-predictor"), "predictor")
	if _, err := m.Activate(ctx, pred.ID, Actor{}); err != nil {
		t.Fatal(err)
	}
	eng := newEngine(t, nil)
	m2 := newManager(t, eng, copyDir(t, dir), nil)
	st := m2.Status()
	if st.Probation[KindPredictor].ID != pred.ID || eng.Models().Predictor != (builtin.Predictor{}) {
		t.Fatalf("at start: %+v, engine predictor %+v", st, eng.Models().Predictor.Model())
	}
	deadline := time.Now().Add(20 * time.Second)
	for m2.Status().Probation != nil {
		if time.Now().After(deadline) {
			t.Fatalf("trial did not end: %+v", m2.Status())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if eng.Models().Predictor.Model().SHA256 != pred.ID {
		t.Fatalf("after the trial the engine predicts with %+v", eng.Models().Predictor.Model())
	}
	h := m2.History()
	if last := h[len(h)-1]; !strings.Contains(last.Reason, "passed the conformance vectors") {
		t.Fatalf("history %+v", last)
	}
}

// slowScorer returns a well-formed zero scorer that spins for n loop
// iterations per batch: slow, but far under the batch time limit.
func slowScorer(name string, n int32) []byte {
	return wasmtest.Hostile{
		Manifest: `{"name":"` + name + `","version":"1.0.0","kind":"scorer"}`,
		After: wasmtest.Code{}.I32(0).Set(1).Loop().
			Get(1).I32(1).I32Add().Set(1).
			Get(1).I32(n).Op(0x49).BrIf(0). // i32.lt_u
			End(),
	}.Module()
}

// TestSlowPluginRolledBack: a scorer whose every batch takes milliseconds
// where the builtin takes microseconds (under the batch time limit, so no
// failure) is rolled back automatically for being too slow, the reason
// visible in the status and the history; a fast plugin is not.
func TestSlowPluginRolledBack(t *testing.T) {
	eng := newEngine(t, nil)
	m := newManager(t, eng, t.TempDir(), func(c *Config) {
		c.Options.Breaker = plugins.Breaker{Failures: 3, Window: time.Minute}
		// Generous limits so that a loaded machine neither times the slow
		// plugin out nor makes the fast one look slow.
		c.Options.Limits.BatchTimeout = 5 * time.Second
		c.SlowSlack = 10 * time.Millisecond
	})
	ctx := context.Background()
	good := mustUpload(t, m, wasmtest.ZeroScorer("zero", "1"), "scorer")
	slow := mustUpload(t, m, slowScorer("slow", 2_000_000), "scorer")
	for _, id := range []string{good.ID, slow.ID} {
		if _, err := m.Activate(ctx, id, Actor{}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; m.Status().AutoRollbacks == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("no automatic rollback; %+v", m.List())
		}
		if err := eng.TrySubmit(pairsAt(3, 1.7e9+float64(i))); err != nil {
			t.Fatal(err)
		}
		eng.Tick()
		time.Sleep(5 * time.Millisecond)
	}
	st := m.Status()
	if st.Active[KindScorer].ID != good.ID || !strings.Contains(st.LastAuto.Reason, "too slow: 3 batches over their latency budget") {
		t.Fatalf("status %+v", st.LastAuto)
	}
	in, _ := m.Get(slow.ID)
	if in.State != StateBroken || in.Counters.Failures != 0 {
		t.Fatalf("slow plugin: state %s, failures %d (slow is not a failure)", in.State, in.Counters.Failures)
	}
	// The fast plugin, now active, scores batch after batch within budget.
	for i := 0; i < 20; i++ {
		if err := eng.TrySubmit(pairsAt(3, 1.8e9+float64(i))); err != nil {
			t.Fatal(err)
		}
		eng.Tick()
	}
	time.Sleep(50 * time.Millisecond)
	if in, _ := m.Get(good.ID); in.State != StateActive || m.Status().AutoRollbacks != 1 {
		t.Fatalf("fast plugin after 20 ticks: %s, %d rollbacks", in.State, m.Status().AutoRollbacks)
	}
}
