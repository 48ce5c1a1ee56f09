package plugins

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/builtin"
)

// The examples beyond c-cpa and go-cpa, each built from source with its own
// Makefile (OUT= into the test's build directory), so that the tests build
// exactly what `make plugins` builds.
type moreExample struct {
	name string
	// toolchain reports what is missing to build it ("" when nothing).
	toolchain func() string
	// exact: the manifest claims matches_builtin, so conformance compares
	// every field with the builtin's; otherwise it checks well-formedness.
	exact bool
	kind  abi.Kind
}

var moreExamples = []moreExample{
	{name: "as-cpa", toolchain: haveAssemblyScript, exact: true, kind: abi.KindScorer | abi.KindPredictor},
	{name: "rust-cpa", toolchain: haveRust, exact: true, kind: abi.KindScorer | abi.KindPredictor},
	{name: "aviation", toolchain: haveClang, kind: abi.KindScorer},
	{name: "pc-foster", toolchain: haveGo, kind: abi.KindScorer},
	{name: "turn-predictor", toolchain: haveGo, kind: abi.KindPredictor},
}

func moreExampleByName(name string) moreExample {
	for _, e := range moreExamples {
		if e.name == name {
			return e
		}
	}
	panic("no example " + name)
}

// haveAssemblyScript: the compiler that .ci/install-toolchains.sh installs
// into sdk/assemblyscript/node_modules, and node to run it.
func haveAssemblyScript() string {
	if _, err := exec.LookPath("node"); err != nil {
		return "node"
	}
	if _, err := os.Stat(filepath.Join("..", "sdk", "assemblyscript", "node_modules", ".bin", "asc")); err != nil {
		return "sdk/assemblyscript/node_modules/.bin/asc"
	}
	return ""
}

// haveRust: Debian's rustc with the wasm32 standard library
// (libstd-rust-dev-wasm32), not the rustup rustc that may be first on PATH.
func haveRust() string {
	if _, err := os.Stat("/usr/bin/rustc"); err != nil {
		return "/usr/bin/rustc"
	}
	if m, _ := filepath.Glob("/usr/lib/rustlib/wasm32-unknown-unknown/lib/libstd-*.rlib"); len(m) == 0 {
		return "libstd-rust-dev-wasm32"
	}
	return ""
}

func haveClang() string {
	for _, tool := range []string{"clang", "wasm-ld"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool
		}
	}
	return ""
}

func haveGo() string { return "" }

// threadCPU returns the CPU time of the calling OS thread on Linux
// (getrusage RUSAGE_THREAD), 0 elsewhere. The caller holds
// runtime.LockOSThread.
func threadCPU() time.Duration {
	if runtime.GOOS != "linux" {
		return 0
	}
	const rusageThread = 1
	var ru syscall.Rusage
	if syscall.Getrusage(rusageThread, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var (
	moreBuildMu sync.Mutex
	moreBuilt   = map[string][]byte{}
	moreErr     = map[string]error{}
)

// buildMore builds examples/<name> once per test binary. A missing toolchain
// skips the test, except under CI=true, where .ci/run installs every
// toolchain (.ci/install-toolchains.sh) and a missing one is a failure.
func buildMore(tb testing.TB, name string) []byte {
	tb.Helper()
	e := moreExampleByName(name)
	if missing := e.toolchain(); missing != "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s: %s is required under CI (.ci/install-toolchains.sh plugins installs it)", name, missing)
		}
		tb.Skipf("%s: %s not installed (.ci/install-toolchains.sh plugins installs it)", name, missing)
	}
	moreBuildMu.Lock()
	defer moreBuildMu.Unlock()
	if mod, ok := moreBuilt[name]; ok {
		return mod
	}
	if err, ok := moreErr[name]; ok {
		tb.Fatal(err)
	}
	mod, err := makeExample(name)
	if err != nil {
		moreErr[name] = err
		tb.Fatal(err)
	}
	moreBuilt[name] = mod
	return mod
}

func makeExample(name string) ([]byte, error) {
	src, err := filepath.Abs(filepath.Join("..", "examples", name))
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(buildDir, "more-"+name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	out := filepath.Join(dir, name+".wasm")
	cmd := exec.Command("make", "-s", "-C", src, "OUT="+out, "BUILD="+dir,
		"GO="+filepath.Join(runtime.GOROOT(), "bin", "go"))
	cmd.Env = append(os.Environ(), "GOFLAGS=-trimpath")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return nil, &buildError{name, err, stderr.String()}
	}
	return os.ReadFile(out)
}

// TestMoreExamplesConformance builds each example from source and runs the
// conformance vectors: exact for the CPA ports, well-formed (ranges, counts,
// determinism, independence of batch order) for the other models.
func TestMoreExamplesConformance(t *testing.T) {
	for _, e := range moreExamples {
		t.Run(e.name, func(t *testing.T) {
			rep := Conformance(ctx, buildMore(t, e.name))
			var sb strings.Builder
			rep.WriteText(&sb)
			t.Log("\n" + sb.String())
			if !rep.Pass {
				t.Fatal("conformance failed")
			}
			want := "well-formed"
			if e.exact {
				want = "exact"
			}
			if rep.Mode != want {
				t.Fatalf("mode %s, want %s", rep.Mode, want)
			}
			if k := rep.Manifest.ModelKind(); k != e.kind {
				t.Fatalf("kind %q, want %v", rep.Manifest.Kind, e.kind)
			}
			ran := 0
			for _, v := range rep.Vectors {
				if !v.Skipped {
					ran++
				}
			}
			if ran < 3 {
				t.Fatalf("only %d vectors ran", ran)
			}
			if len(rep.Imports) != 0 && !strings.HasPrefix(rep.Imports[0], "wasi_snapshot_preview1.") {
				t.Fatalf("imports %v", rep.Imports)
			}
		})
	}
}

// TestMoreCPAMatchBuiltinOnTraffic scores random traffic through the full
// Score path (vehicle compaction, split batches, pairs beyond the unrolled
// part of the loop) and predicts random vehicles with and without
// acceleration, and compares with the builtin bit for bit.
func TestMoreCPAMatchBuiltinOnTraffic(t *testing.T) {
	vs, ps := traffic(5, 3000, 20011, 4000)
	for i := range vs {
		if i%3 == 0 { // some with acceleration, for the predictor
			vs[i].AX, vs[i].AY, vs[i].AZ = float64(i%7)-3, float64(i%5)-2, 0.25
			vs[i].Flags |= abi.FlagHasAccel
		}
	}
	prm := abi.Params{Horizon: 30, MinRisk: 0.3, Samples: 5}
	want := make([]abi.Result, len(ps))
	if err := (builtin.Scorer{}).Score(ctx, prm, vs, ps, want); err != nil {
		t.Fatal(err)
	}
	wantBoxes := make([]abi.Box, len(vs))
	wantPts := make([]abi.Point, len(vs)*int(prm.Samples))
	if err := (builtin.Predictor{}).Predict(ctx, prm, vs, wantBoxes, wantPts); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"as-cpa", "rust-cpa"} {
		t.Run(name, func(t *testing.T) {
			p := mustLoad(t, mustRuntime(t), buildMore(t, name), Options{Limits: Limits{MaxBatch: 4096, BatchTimeout: 10 * time.Second}, Instances: 2})
			got := make([]abi.Result, len(ps))
			id, err := p.ScoreModel(ctx, prm, vs, ps, got)
			if err != nil {
				t.Fatal(err)
			}
			if id != p.Model() || id.Name != "cpa-"+strings.TrimSuffix(name, "-cpa") {
				t.Fatalf("scored by %+v", id)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("pair %d %v: got %+v want %+v", i, ps[i], got[i], want[i])
				}
			}
			boxes := make([]abi.Box, len(vs))
			pts := make([]abi.Point, len(wantPts))
			if err := p.Predict(ctx, prm, vs, boxes, pts); err != nil {
				t.Fatal(err)
			}
			for i := range wantBoxes {
				if boxes[i] != wantBoxes[i] {
					t.Fatalf("vehicle %d: box %+v want %+v", i, boxes[i], wantBoxes[i])
				}
			}
			for i := range wantPts {
				if pts[i] != wantPts[i] {
					t.Fatalf("sample %d: %+v want %+v", i, pts[i], wantPts[i])
				}
			}
			if s := p.Stats(); s.Failures != 0 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

// benchOptions: one instance, and a batch time limit long enough that a
// loaded machine (a descheduled thread) cannot fail a benchmark; deadline
// enforcement is on all the same, and its cost does not depend on the limit.
var benchOptions = Options{Instances: 1, Limits: Limits{BatchTimeout: 10 * time.Second}}

// BenchmarkScoreSDK reports ns per scored pair for the builtin and the
// AssemblyScript and Rust CPA examples at batch sizes 64, 1024 and 16384,
// through the normal call path with deadline enforcement on
// (WithCloseOnContextDone and the batch time limit), as BenchmarkScore does
// for the C and Go examples.
func BenchmarkScoreSDK(b *testing.B) {
	prm := abi.Params{Horizon: 30, MinRisk: 0.3}
	models := []struct {
		name string
		new  func(b *testing.B) abi.Scorer
	}{
		{"builtin", func(*testing.B) abi.Scorer { return builtin.Scorer{} }},
		{"as-cpa", func(b *testing.B) abi.Scorer {
			return mustLoad(b, mustRuntime(b), buildMore(b, "as-cpa"), benchOptions)
		}},
		{"rust-cpa", func(b *testing.B) abi.Scorer {
			return mustLoad(b, mustRuntime(b), buildMore(b, "rust-cpa"), benchOptions)
		}},
	}
	for _, m := range models {
		b.Run(m.name, func(b *testing.B) {
			s := m.new(b)
			for _, n := range []int{64, 1024, 16384} {
				b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
					vs, ps := traffic(9, max(64, n/2), n, 3000)
					res := make([]abi.Result, n)
					// The guest runs on the calling goroutine: pinned to one
					// thread, its CPU clock measures the work, not the time
					// spent waiting for a core on a loaded machine.
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
