package engine

import (
	"context"
	"github.com/collision-detection-platform/distributed-platform/examples"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/builtin"
	"github.com/collision-detection-platform/distributed-platform/plugins"
)

// BenchmarkEngineScorer compares the whole pipeline with the builtin scorer
// and with the C CPA example as a Wasm scorer (deadline enforcement on), on
// the same traffic, alternating the two within one run so that the ratio holds
// on a loaded machine. Target: the Wasm run at least 70 % of the builtin's.
func BenchmarkEngineScorer(b *testing.B) {
	module := examples.Module(b, "c-cpa")
	rt, err := plugins.NewRuntime(plugins.RuntimeConfig{})
	if err != nil {
		b.Fatal(err)
	}
	p, err := rt.Load(context.Background(), module, plugins.Options{Fallback: builtin.Scorer{}})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(context.Background())
	for _, n := range []int{10_000, 100_000} {
		for _, name := range []string{"builtin", "wasm-c"} {
			m := builtinModels()
			if name == "wasm-c" {
				m.Scorer = p
			}
			b.Run(name+"/vehicles="+itoa(n), func(b *testing.B) { benchEngineModels(b, "uniform", n, m) })
		}
	}
}

func itoa(n int) string {
	switch n {
	case 10_000:
		return "10000"
	case 100_000:
		return "100000"
	}
	return "n"
}
