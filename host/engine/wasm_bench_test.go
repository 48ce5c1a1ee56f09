package engine

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/builtin"
	"github.com/collision-detection-platform/distributed-platform/plugins"
)

// BenchmarkEngineScorer compares the whole pipeline with the builtin scorer
// and with the C CPA example as a Wasm scorer (deadline enforcement on), on
// the same traffic, alternating the two within one run so that the ratio holds
// on a loaded machine. Target: the Wasm run at least 70 % of the builtin's.
func BenchmarkEngineScorer(b *testing.B) {
	clang, err := exec.LookPath("clang")
	if err != nil {
		b.Fatal("clang is needed to build examples/c-cpa (.ci/install-toolchains.sh)")
	}
	root, _ := filepath.Abs("../..")
	wasm := filepath.Join(b.TempDir(), "cpa.wasm")
	cmd := exec.Command(clang, "--target=wasm32", "-nostdlib", "-O3", "-ffp-contract=off",
		"-I"+filepath.Join(root, "sdk", "c"), "-Wl,--no-entry", "-Wl,--export-dynamic", "-Wl,--strip-all",
		"-o", wasm, filepath.Join(root, "examples", "c-cpa", "cpa.c"))
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build c-cpa: %v\n%s", err, out)
	}
	module, err := os.ReadFile(wasm)
	if err != nil {
		b.Fatal(err)
	}
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
