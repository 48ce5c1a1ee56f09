package plugins

import (
	"os"
	"testing"
	"runtime"
	"syscall"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

func TestProbe(t *testing.T) {
	for _, name := range []string{"/tmp/cpa1.wasm", "/tmp/cpa16.wasm", "/tmp/cpa64.wasm", "c-cpa", "go-cpa"} {
		for _, ens := range []bool{false, true} {
			var mod []byte
			if name[0] == '/' {
				mod, _ = os.ReadFile(name)
			} else {
				mod = exampleModule(t, name)
			}
			rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(ens))
			wasi_snapshot_preview1.MustInstantiate(ctx, rt)
			m, err := rt.InstantiateModule(ctx, must(rt.CompileModule(ctx, mod)), wazero.NewModuleConfig().WithStartFunctions())
			if err != nil {
				t.Fatal(err)
			}
			if f := m.ExportedFunction("_initialize"); f != nil {
				f.Call(ctx)
			}
			vs, ps := traffic(9, 512, 1024, 3000)
			h, _ := abi.ScoreHeader(abi.Params{Horizon: 30, MinRisk: 0.3}, len(vs), len(ps))
			res, _ := m.ExportedFunction("cdp_alloc").Call(ctx, uint64(h.BatchSize))
			ptr := uint32(res[0])
			b, _ := m.Memory().Read(ptr, h.BatchSize)
			abi.PutHeader(b, &h)
			abi.PutVehicles(b, &h, vs)
			abi.PutPairs(b, &h, ps)
			f := m.ExportedFunction("cdp_score")
			st := []uint64{uint64(ptr)}
			n := 200
			runtime.LockOSThread()
			t0 := cpuNow()
			for i := 0; i < n; i++ {
				st[0] = uint64(ptr)
				if err := f.CallWithStack(ctx, st); err != nil {
					t.Fatal(err)
				}
			}
			t.Logf("%s ensure=%v: %.1f ns/pair (mem %d)", name, ens, float64(cpuNow()-t0)/float64(n*len(ps)), m.Memory().Size())
			rt.Close(ctx)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func cpuNow() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
