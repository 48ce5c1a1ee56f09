package builtin_test

import (
	"context"
	"strings"
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

func TestCheckScenarios(t *testing.T) {
	if err := builtin.CheckScenarios(context.Background(), builtin.Scorer{}); err != nil {
		t.Fatal(err)
	}
	// A scorer that never sees a conflict must fail the table, naming scenarios.
	err := builtin.CheckScenarios(context.Background(), blindScorer{})
	if err == nil || !strings.Contains(err.Error(), "head-on-conflict") || strings.Contains(err.Error(), "diverging:") {
		t.Errorf("blind scorer: %v", err)
	}
}

// blindScorer rates every pair as clear.
type blindScorer struct{}

func (blindScorer) Model() abi.ModelID { return abi.ModelID{Name: "blind"} }

func (blindScorer) Score(_ context.Context, _ abi.Params, _ []abi.Vehicle, ps []abi.Pair, rs []abi.Result) error {
	for i := range ps {
		rs[i] = abi.Result{TIn: -1, TOut: -1}
	}
	return nil
}
