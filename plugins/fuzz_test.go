package plugins

import (
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/builtin"
	"github.com/collision-detection-platform/distributed-platform/plugins/wasmtest"
)

// FuzzLoad feeds mutated modules to Load and, when one loads, a batch to
// Score: the host must neither panic nor hang, and the batch must be scored
// (by the plugin or by the fallback) with well-formed results.
func FuzzLoad(f *testing.F) {
	f.Add(wasmtest.Hostile{}.Module())
	f.Add(wasmtest.Hostile{After: wasmtest.Code{}.Get(2).F64(2).StoreF64(0)}.Module())
	f.Add(wasmtest.Hostile{Init: wasmtest.Code{}.I32(0)}.Module())
	f.Add(wasmtest.Hostile{Score: wasmtest.Code{}.Unreachable().I32(0)}.Module())
	r := mustRuntime(f)
	vs, ps := traffic(4, 16, 32, 500)
	prm := abi.Params{Horizon: 30, MinRisk: 0.3}
	f.Fuzz(func(t *testing.T, module []byte) {
		p, err := r.Load(ctx, module, Options{Instances: 1, Fallback: builtin.Scorer{}, Logger: discardLogger(),
			Limits: Limits{BatchTimeout: 20 * time.Millisecond, InitTimeout: 100 * time.Millisecond, MemoryPages: 64}})
		if err != nil {
			return
		}
		defer p.Close(ctx)
		res := make([]abi.Result, len(ps))
		if err := p.Score(ctx, prm, vs, ps, res); err != nil {
			if p.Kind()&abi.KindScorer != 0 {
				t.Fatalf("a loaded scorer with a fallback failed a batch: %v", err)
			}
			return
		}
		if i, what := checkResults(prm.Horizon, res); i >= 0 {
			t.Fatalf("result %d reached the caller malformed: %s", i, what)
		}
	})
}

// FuzzScanModule: the pre-scan never panics, and every module it accepts
// wazero can at least attempt to decode within bounded memory (FuzzLoad).
func FuzzScanModule(f *testing.F) {
	f.Add(wasmtest.Hostile{}.Module())
	f.Add(wasmtest.Hostile{Imports: []wasmtest.Import{{Module: "wasi_snapshot_preview1", Name: "fd_write", Params: []byte{wasmtest.TypeI32, wasmtest.TypeI32, wasmtest.TypeI32, wasmtest.TypeI32}, Result: []byte{wasmtest.TypeI32}}}}.Module())
	f.Add([]byte{0, 'a', 's', 'm', 1, 0, 0, 0, 2, 5, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = scanModule(b)
	})
}
