package plugins

import (
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/abi"
)

func TestZZProbe(t *testing.T) {
	for _, name := range []string{"rust-cpa", "as-cpa"} {
		p := mustLoad(t, mustRuntime(t), buildMore(t, name), Options{Instances: 1, Limits: Limits{BatchTimeout: 10 * time.Second}})
		vs, ps := traffic(9, 8192, 16384, 3000)
		res := make([]abi.Result, len(ps))
		var worst, total time.Duration
		for i := 0; i < 50; i++ {
			st := time.Now()
			if err := p.Score(ctx, abi.Params{Horizon: 30, MinRisk: 0.3}, vs, ps, res); err != nil {
				t.Fatal(err)
			}
			d := time.Since(st)
			total += d
			worst = max(worst, d)
		}
		t.Logf("%s: mean %v worst %v", name, total/50, worst)
	}
}
