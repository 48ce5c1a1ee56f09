package plugins

import (
	"context"
	"fmt"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/builtin"
	"github.com/collision-detection-platform/distributed-platform/plugins/wasmtest"
)

// A module that traps on every call is contained: the builtin fallback
// scores the batch, and the failure is counted with its reason.
func ExampleRuntime_Load() {
	ctx := context.Background()
	rt, _ := NewRuntime(RuntimeConfig{})
	defer rt.Close(ctx)

	module := wasmtest.Hostile{Score: wasmtest.Code{}.Unreachable().I32(0)}.Module() // traps in cdp_score
	p, err := rt.Load(ctx, module, Options{Fallback: builtin.Scorer{}, Instances: 1, Logger: discardLogger()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close(ctx)

	vehicles := []abi.Vehicle{
		{X: 0, Y: 0, Alt: 100, VX: 50, T: 0, HSep: 50, VSep: 25},
		{X: 2000, Y: 0, Alt: 100, VX: -50, T: 0, HSep: 50, VSep: 25},
	}
	results := make([]abi.Result, 1)
	id, err := p.ScoreModel(ctx, abi.Params{Horizon: 30, MinRisk: 0.3}, vehicles, []abi.Pair{{A: 0, B: 1}}, results)
	s := p.Stats()
	fmt.Println("scored by:", id.Name, "error:", err)
	fmt.Printf("risk %.3f, conflict in %.1f s\n", results[0].Risk, results[0].TIn)
	fmt.Println("failures:", s.Failures, "traps:", s.FailuresByReason.Trap, "fallback batches:", s.FallbackBatches)
	// Output:
	// scored by: builtin-cpa error: <nil>
	// risk 0.838, conflict in 19.5 s
	// failures: 1 traps: 1 fallback batches: 1
}
