package plugins

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/builtin"
	"github.com/collision-detection-platform/distributed-platform/examples"
	"github.com/tetratelabs/wazero"
)

// BenchmarkScore reports ns per scored pair for the builtin and each Wasm
// example at batch sizes 64, 1024 and 16384, through the normal call path
// with deadline enforcement on (WithCloseOnContextDone, batch time limit).
func BenchmarkScore(b *testing.B) {
	prm := abi.Params{Horizon: 30, MinRisk: 0.3}
	models := []struct {
		name string
		new  func(b *testing.B) abi.Scorer
	}{
		{"builtin", func(*testing.B) abi.Scorer { return builtin.Scorer{} }},
		{"c-cpa", func(b *testing.B) abi.Scorer {
			return mustLoad(b, mustRuntime(b), examples.Module(b, "c-cpa"), benchOptions)
		}},
		{"go-cpa", func(b *testing.B) abi.Scorer {
			return mustLoad(b, mustRuntime(b), examples.Module(b, "go-cpa"), benchOptions)
		}},
		{"as-cpa", func(b *testing.B) abi.Scorer {
			return mustLoad(b, mustRuntime(b), examples.Module(b, "as-cpa"), benchOptions)
		}},
		{"rust-cpa", func(b *testing.B) abi.Scorer {
			return mustLoad(b, mustRuntime(b), examples.Module(b, "rust-cpa"), benchOptions)
		}},
	}
	for _, m := range models {
		b.Run(m.name, func(b *testing.B) {
			s := m.new(b)
			for _, n := range []int{64, 1024, 16384} {
				b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
					vs, ps := traffic(9, max(64, n/2), n, 3000)
					res := make([]abi.Result, n)
					// Pinned to one thread, the thread's CPU clock measures
					// the work, not waits for a core on a loaded machine.
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
					b.ReportAllocs()
					cpu0 := threadCPU()
					for b.Loop() {
						if err := s.Score(context.Background(), prm, vs, ps, res); err != nil {
							b.Fatal(err)
						}
					}
					cpu := threadCPU() - cpu0
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/pair")
					if cpu > 0 {
						b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/pair")
					}
				})
			}
		})
	}
}

// BenchmarkInstrumentCost reports what the deadline checks at function
// entry and the call-depth budget (see instrument) cost each example, in
// one run: ns per pair (scorers, batches of 1,024) or per vehicle
// (predictors, 6 samples) with the module as uploaded (checks=loops, what
// wazero does alone) and as instrumented (checks=entry).
func BenchmarkInstrumentCost(b *testing.B) {
	for _, name := range []string{"go-cpa", "pc-foster", "c-cpa", "as-cpa", "rust-cpa", "turn-predictor"} {
		b.Run(name, func(b *testing.B) {
			mod := examples.Module(b, name)
			for _, inst := range []bool{false, true} {
				b.Run(map[bool]string{false: "checks=loops", true: "checks=entry"}[inst], func(b *testing.B) {
					o := benchOptions
					o.uninstrumented = !inst
					p := mustLoad(b, mustRuntime(b), mod, o)
					const n = 1024
					vs, ps := traffic(9, n/2, n, 3000)
					res := make([]abi.Result, n)
					prm := abi.Params{Horizon: 30, MinRisk: 0.3, Samples: 6}
					boxes, samples := make([]abi.Box, len(vs)), make([]abi.Point, 6*len(vs))
					call := func() error { return p.Score(ctx, prm, vs, ps, res) }
					per, unit := n, "ns/pair"
					if p.Kind()&abi.KindScorer == 0 {
						call = func() error { return p.Predict(ctx, prm, vs, boxes, samples) }
						per, unit = len(vs), "ns/vehicle"
					}
					if err := call(); err != nil { // warm the instance
						b.Fatal(err)
					}
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
					cpu0 := threadCPU()
					for b.Loop() {
						if err := call(); err != nil {
							b.Fatal(err)
						}
					}
					cpu := threadCPU() - cpu0
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*per), unit)
					if cpu > 0 {
						b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*per), "cpu-"+unit)
					}
				})
			}
		})
	}
}

// BenchmarkCompile reports the time to compile the Go example cold (empty
// cache) and cached (a new wazero runtime over a warm cache), and the time
// to create an instance.
func BenchmarkCompile(b *testing.B) {
	mod := examples.Module(b, "go-cpa")
	lim, _ := Options{}.resolved()
	cfg := func(c wazero.CompilationCache) wazero.RuntimeConfig {
		return wazero.NewRuntimeConfig().WithCloseOnContextDone(true).WithMemoryLimitPages(lim.Limits.MemoryPages).WithCompilationCache(c)
	}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			c := wazero.NewCompilationCache()
			rt := wazero.NewRuntimeWithConfig(ctx, cfg(c))
			if _, err := rt.CompileModule(ctx, mod); err != nil {
				b.Fatal(err)
			}
			rt.Close(ctx)
			c.Close(ctx)
		}
	})
	b.Run("cached-on-disk", func(b *testing.B) {
		dir := b.TempDir()
		c, _ := wazero.NewCompilationCacheWithDir(dir)
		rt := wazero.NewRuntimeWithConfig(ctx, cfg(c))
		if _, err := rt.CompileModule(ctx, mod); err != nil {
			b.Fatal(err)
		}
		rt.Close(ctx)
		c.Close(ctx)
		for b.Loop() {
			c, _ := wazero.NewCompilationCacheWithDir(dir) // a restarted process
			rt := wazero.NewRuntimeWithConfig(ctx, cfg(c))
			if _, err := rt.CompileModule(ctx, mod); err != nil {
				b.Fatal(err)
			}
			rt.Close(ctx)
			c.Close(ctx)
		}
	})
	b.Run("load-cached-in-memory", func(b *testing.B) {
		// Load (compile, check, first instance) of a module the Runtime
		// has compiled before: a hot swap back to the previous model.
		r := mustRuntime(b)
		p, err := r.Load(ctx, mod, Options{Instances: 1})
		if err != nil {
			b.Fatal(err)
		}
		p.Close(ctx)
		for b.Loop() {
			p, err := r.Load(ctx, mod, Options{Instances: 1})
			if err != nil {
				b.Fatal(err)
			}
			p.Close(ctx)
		}
	})
}

// BenchmarkInstance reports the time to create (and initialise) one instance.
func BenchmarkInstance(b *testing.B) {
	for _, name := range []string{"go-cpa", "c-cpa"} {
		b.Run(name, func(b *testing.B) {
			p := mustLoad(b, mustRuntime(b), examples.Module(b, name), Options{Instances: 1})
			for b.Loop() {
				in, err := p.newInstance(ctx)
				if err != nil {
					b.Fatal(err)
				}
				in.close()
			}
		})
	}
}
