package models

import (
	"context"
	"github.com/collision-detection-platform/distributed-platform/examples"
	"io"
	"log/slog"
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

// example builds examples/<name> once per test binary (examples.Module).
func example(tb testing.TB, name string) []byte {
	tb.Helper()
	return examples.Module(tb, name)
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
