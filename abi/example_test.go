package abi_test

import (
	"fmt"

	"github.com/collision-detection-platform/distributed-platform/abi"
)

// A score batch of 3 vehicles and 2 pairs, laid out as the host writes it
// into a plugin's arena.
func ExampleScoreHeader() {
	h, err := abi.ScoreHeader(abi.Params{Horizon: 30, MinRisk: 0.3}, 3, 2)
	if err != nil {
		panic(err)
	}
	b := make([]byte, h.BatchSize)
	abi.PutHeader(b, &h)
	abi.PutVehicles(b, &h, make([]abi.Vehicle, 3))
	abi.PutPairs(b, &h, []abi.Pair{{A: 0, B: 1}, {A: 2, B: 0}})
	fmt.Printf("magic %q, version %#x\n", b[0:4], h.Version)
	fmt.Println("vehicles at", h.VehiclesOff, "pairs at", h.PairsOff, "results at", h.ResultsOff, "size", h.BatchSize)
	fmt.Println("a plugin must write out_count =", h.ExpectedOut())
	// Output:
	// magic "CDPB", version 0x10000
	// vehicles at 128 pairs at 512 results at 528 size 624
	// a plugin must write out_count = 2
}
