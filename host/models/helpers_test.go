package models

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/builtin"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/plugins"
)

var (
	buildDir string
	buildMu  sync.Mutex
	built    = map[string][]byte{}
)

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "cdp-models-test")
	if err != nil {
		panic(err)
	}
	buildDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

// example builds examples/<name> (c-cpa with clang, go-cpa with the Go
// toolchain) once per test binary and returns the module.
func example(tb testing.TB, name string) []byte {
	tb.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if b, ok := built[name]; ok {
		return b
	}
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	out := filepath.Join(buildDir, name+".wasm")
	var cmd *exec.Cmd
	switch name {
	case "c-cpa":
		clang, err := exec.LookPath("clang")
		if err != nil {
			tb.Fatal("clang is needed to build examples/c-cpa (.ci/install-toolchains.sh installs it)")
		}
		cmd = exec.Command(clang, "--target=wasm32", "-nostdlib", "-O3", "-ffp-contract=off",
			"-I"+filepath.Join(root, "sdk", "c"), "-Wl,--no-entry", "-Wl,--export-dynamic", "-Wl,--strip-all",
			"-o", out, filepath.Join(root, "examples", "c-cpa", "cpa.c"))
	case "go-cpa":
		cmd = exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "./examples/go-cpa")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	default:
		tb.Fatalf("unknown example %s", name)
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build %s: %v\n%s", name, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	built[name] = b
	return b
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newEngine(tb testing.TB, mod func(*engine.Config)) *engine.Engine {
	tb.Helper()
	cfg := engine.Default()
	cfg.Workers = 2
	if mod != nil {
		mod(&cfg)
	}
	e, err := engine.New(cfg, engine.Models{Predictor: builtin.Predictor{}, Scorer: builtin.Scorer{}})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

var sharedRuntime = sync.OnceValue(func() *plugins.Runtime {
	rt, err := plugins.NewRuntime(plugins.RuntimeConfig{})
	if err != nil {
		panic(err)
	}
	return rt
})

// newManager returns a manager over eng; mod may change the config.
func newManager(tb testing.TB, eng Engine, dir string, mod func(*Config)) *Manager {
	tb.Helper()
	cfg := Config{Engine: eng, Runtime: sharedRuntime(), Dir: dir, Logger: quietLogger(),
		Options: plugins.Options{Instances: 2, Logger: quietLogger()}, WatchInterval: 20 * time.Millisecond,
		CloseDelay: 100 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	m, err := New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close(context.Background()) })
	return m
}

func mustUpload(tb testing.TB, m *Manager, module []byte, kind string) *Record {
	tb.Helper()
	r, _, err := m.Upload(context.Background(), Upload{Module: module, Kind: kind, Actor: Actor{RemoteAddr: "test"}})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}
