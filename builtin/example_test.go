package builtin_test

import (
	"context"
	"fmt"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/builtin"
)

// Two drones head-on at 20 m/s each, 1 km apart at the same altitude, default
// protected zones (50 m, 25 m, radius 1 m): they lose separation (52 m) after
// 23.7 s, inside the 30 s horizon.
func ExampleScorePair() {
	a := abi.Vehicle{X: 0, Z: 100, VX: 20, Alt: 100, HSep: 50, VSep: 25, Radius: 1}
	b := abi.Vehicle{X: 1000, Z: 100, VX: -20, Alt: 100, HSep: 50, VSep: 25, Radius: 1}
	r := builtin.ScorePair(&a, &b, abi.Params{Horizon: 30, MinRisk: 0.3})
	fmt.Printf("risk %.4f, conflict %v, LoS in %.1f s until %.1f s, closest %.0f m at %.0f s\n",
		r.Risk, r.Flags&abi.ResultConflict != 0, r.TIn, r.TOut, r.DMin, r.TCA)
	// Output: risk 0.8025, conflict true, LoS in 23.7 s until 26.3 s, closest 0 m at 25 s
}

// The predictor's box for a braking vehicle covers both where it will stop
// and where it would be if it kept its speed (the scorer assumes that).
func ExamplePredictor() {
	vs := []abi.Vehicle{{VX: 20, AX: -2, Flags: abi.FlagHasAccel}}
	boxes := make([]abi.Box, 1)
	samples := make([]abi.Point, 3)
	p := abi.Params{Horizon: 30, Samples: 3}
	if err := (builtin.Predictor{}).Predict(context.Background(), p, vs, boxes, samples); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("x from %.0f to %.0f m; samples at 10, 20, 30 s: %.0f %.0f %.0f m\n",
		boxes[0].MinX, boxes[0].MaxX, samples[0].X, samples[1].X, samples[2].X)
	// Output: x from -300 to 600 m; samples at 10, 20, 30 s: 100 0 -300 m
}

// A scorer under test (here the builtin itself; in the plugin tests a Wasm
// model) runs the behaviour table in one call.
func ExampleCheckScenarios() {
	if err := builtin.CheckScenarios(context.Background(), builtin.Scorer{}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(builtin.Scenarios()), "scenarios pass")
	// Output: 24 scenarios pass
}
