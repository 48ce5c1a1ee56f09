package plugins

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/abi"
)

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
