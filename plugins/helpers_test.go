package plugins

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/abi"
)

// Example modules are built once per test binary, from source.
var (
	buildDir  string
	buildOnce = map[string]*sync.Once{"go-cpa": {}, "c-cpa": {}}
	built     = map[string][]byte{}
	buildErr  = map[string]error{}
	buildMu   sync.Mutex
)

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "cdp-plugins-test")
	if err != nil {
		panic(err)
	}
	buildDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

// exampleModule builds examples/<name> and returns the module bytes.
// go-cpa needs only the Go toolchain and always builds; c-cpa needs clang and
// wasm-ld and is skipped without them, except under CI=true.
func exampleModule(tb testing.TB, name string) []byte {
	tb.Helper()
	buildMu.Lock()
	once := buildOnce[name]
	buildMu.Unlock()
	once.Do(func() {
		src, _ := filepath.Abs(filepath.Join("..", "examples", name))
		out := filepath.Join(buildDir, name+".wasm")
		var cmd *exec.Cmd
		switch name {
		case "go-cpa":
			cmd = exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-buildmode=c-shared", "-o", out, ".")
			cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		case "c-cpa":
			clang, err := exec.LookPath("clang")
			if err == nil {
				_, err = exec.LookPath("wasm-ld")
			}
			if err != nil {
				buildErr[name] = errSkip
				return
			}
			cmd = exec.Command(clang, "--target=wasm32", "-nostdlib", "-O3", "-ffp-contract=off",
				"-I", filepath.Join(src, "..", "..", "sdk", "c"),
				"-Wl,--no-entry", "-Wl,--export-dynamic", "-Wl,--strip-all", "-o", out, "cpa.c")
		}
		cmd.Dir = src
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			buildErr[name] = &buildError{name, err, stderr.String()}
			return
		}
		built[name], buildErr[name] = os.ReadFile(out)
	})
	if err := buildErr[name]; err != nil {
		if err == errSkip {
			if os.Getenv("CI") == "true" {
				tb.Fatalf("%s: clang and wasm-ld are required under CI (apt-get install clang lld)", name)
			}
			tb.Skipf("%s: clang or wasm-ld not installed", name)
		}
		tb.Fatal(err)
	}
	return built[name]
}

type buildError struct {
	name   string
	err    error
	stderr string
}

func (e *buildError) Error() string {
	return "build " + e.name + ": " + e.err.Error() + "\n" + e.stderr
}

var errSkip = &buildError{name: "skip"}

// traffic returns n vehicles in a square of side m metres and k random pairs,
// about half of them close enough to conflict sometimes.
func traffic(seed uint64, n, k int, side float64) ([]abi.Vehicle, []abi.Pair) {
	r := rand.New(rand.NewPCG(seed, 7))
	vs := make([]abi.Vehicle, n)
	for i := range vs {
		alt := 50 + r.Float64()*200
		vs[i] = abi.Vehicle{X: r.Float64() * side, Y: r.Float64() * side, Z: alt, VX: r.NormFloat64() * 25,
			VY: r.NormFloat64() * 25, VZ: r.NormFloat64(), Alt: alt, T: 1.7e9 + r.Float64()*2,
			HSep: 50, VSep: 25, Radius: 3, Key: uint64(i)}
		vs[i].VRate = vs[i].VZ
	}
	ps := make([]abi.Pair, 0, k)
	for len(ps) < k {
		a, b := r.IntN(n), r.IntN(n)
		if a != b {
			ps = append(ps, abi.Pair{A: uint32(a), B: uint32(b)})
		}
	}
	return vs, ps
}

// logBuffer is a slog handler target that tests can read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newTestLogger() (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

func mustRuntime(tb testing.TB) *Runtime {
	tb.Helper()
	r, err := NewRuntime(RuntimeConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close(context.Background()) })
	return r
}

func mustLoad(tb testing.TB, r *Runtime, module []byte, o Options) *Plugin {
	tb.Helper()
	p, err := r.Load(context.Background(), module, o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close(context.Background()) })
	return p
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
