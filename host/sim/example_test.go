package sim_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/collision-detection-platform/distributed-platform/host/sim"
)

// A world of ten vehicles: one group of each staged encounter and a
// background drone. The first Step after Start reports every vehicle once.
func Example() {
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s, err := sim.New(sim.Config{N: 10, Seed: 1, OriginLat: 51.47, OriginLon: -0.45, Start: start})
	if err != nil {
		panic(err)
	}
	for _, v := range s.Vehicles() {
		fmt.Println(v.ID, v.Kind, v.Group)
	}
	recs := s.Step(start.Add(time.Second), nil)
	fmt.Println(len(recs), "reports, fields", recs[0].Fields)
	// Output:
	// sim-cross-0001a crossing 1
	// sim-cross-0001b crossing 1
	// sim-headon-0001a head-on 1
	// sim-headon-0001b head-on 1
	// sim-overtake-0001a overtaking 1
	// sim-overtake-0001b overtaking 1
	// sim-stack-0001a stacked 1
	// sim-stack-0001b stacked 1
	// sim-stack-0001c stacked 1
	// sim-drone-0001 drone 0
	// 10 reports, fields id+t+lat+lon+alt+vx+vy+vz
}

// The same reports as wire NDJSON for POST /api/v1/locations.
func ExampleSim_AppendNDJSON() {
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s, _ := sim.New(sim.Config{N: 3, Seed: 1, Start: start})
	buf := s.AppendNDJSON(nil, start.Add(time.Second))
	for _, line := range strings.SplitAfter(string(buf), "\n") {
		if line != "" {
			// The id and the fields, without the numbers.
			fmt.Println(line[:strings.Index(line, `","t":`)+1], strings.Count(line, ":"), "fields")
		}
	}
	// Output:
	// {"id":"sim-cross-0001a" 8 fields
	// {"id":"sim-cross-0001b" 8 fields
	// {"id":"sim-drone-0001" 8 fields
}

// Encounter tells a staged risk from a chance one.
func ExampleSim_Encounter() {
	s, _ := sim.New(sim.Config{N: 500, Seed: 1})
	k, ok := s.Encounter("sim-headon-0003a", "sim-headon-0003b")
	fmt.Println(k, ok)
	_, ok = s.Encounter("sim-drone-0001", "sim-headon-0003b")
	fmt.Println(ok)
	// Output:
	// head-on true
	// false
}
