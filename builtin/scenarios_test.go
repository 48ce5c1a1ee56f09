package builtin_test

import (
	"context"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/builtin"
)

// TestScenarios runs the behaviour table through ScorePair and through the
// batch Scorer, in both pair orders (the outcome must not depend on which
// vehicle is A).
func TestScenarios(t *testing.T) {
	scs := builtin.Scenarios()
	if len(scs) < 20 {
		t.Fatalf("only %d scenarios", len(scs))
	}
	seen := map[string]bool{}
	for _, sc := range scs {
		if seen[sc.Name] {
			t.Errorf("duplicate scenario name %q", sc.Name)
		}
		seen[sc.Name] = true
		t.Run(sc.Name, func(t *testing.T) {
			r := builtin.ScorePair(&sc.A, &sc.B, sc.Params)
			t.Logf("%+v", r)
			if err := sc.Want.Check(r); err != nil {
				t.Errorf("A, B: %v", err)
			}
			if err := sc.Want.Check(builtin.ScorePair(&sc.B, &sc.A, sc.Params)); err != nil {
				t.Errorf("B, A: %v", err)
			}
			vs := []abi.Vehicle{sc.A, sc.B}
			res := make([]abi.Result, 2)
			err := builtin.Scorer{}.Score(context.Background(), sc.Params, vs,
				[]abi.Pair{{A: 0, B: 1}, {A: 1, B: 0}}, res)
			if err != nil {
				t.Fatal(err)
			}
			if res[0] != r {
				t.Errorf("Score = %+v, ScorePair = %+v", res[0], r)
			}
			if err := sc.Want.Check(res[1]); err != nil {
				t.Errorf("Score B, A: %v", err)
			}
		})
	}
}
