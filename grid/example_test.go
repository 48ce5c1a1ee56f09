package grid_test

import (
	"fmt"
	"slices"

	"github.com/collision-detection-platform/distributed-platform/grid"
)

func Example() {
	g, err := grid.New(grid.Config{}) // defaults: 100 m cells, 10..1000 m
	if err != nil {
		panic(err)
	}
	g.Grow(3)
	g.Set(0, grid.Box{MinX: 0, MinY: 0, MinZ: 0, MaxX: 500, MaxY: 500, MaxZ: 100})          // a drone
	g.Set(1, grid.Box{MinX: 500, MinY: -3000, MinZ: 100, MaxX: 800, MaxY: 4500, MaxZ: 300}) // an aircraft, touching it
	g.Set(2, grid.Box{MinX: 9000, MinY: 9000, MinZ: 0, MaxX: 9500, MaxY: 9500, MaxZ: 100})  // far away

	hits := g.QueryAppend(nil, grid.Box{MinX: 0, MinY: 0, MinZ: 0, MaxX: 500, MaxY: 500, MaxZ: 100}, 0)
	slices.Sort(hits)
	fmt.Println("overlapping vehicle 0:", hits)

	g.Delete(1)
	fmt.Println("after delete:", g.QueryAppend(nil, grid.Box{MinX: -1e4, MinY: -1e4, MinZ: -1e4, MaxX: 1e4, MaxY: 1e4, MaxZ: 1e4}, 0))
	fmt.Println("boxes:", g.Len())
	// Output:
	// overlapping vehicle 0: [1]
	// after delete: [2]
	// boxes: 2
}

func ExampleNew_invalid() {
	_, err := grid.New(grid.Config{MinSize: 200})
	fmt.Println(err, grid.IsInvalidConfig(err))
	// Output:
	// grid: grid.initial_size = 100 is below grid.min_size true
}

func ExampleGrid_Stats() {
	g, _ := grid.New(grid.Config{})
	g.Grow(2)
	g.Set(0, grid.Box{MaxX: 50, MaxY: 50, MaxZ: 50})
	g.Set(1, grid.Box{MinX: 40, MinY: 40, MinZ: 40, MaxX: 90, MaxY: 90, MaxZ: 90})
	st := g.Stats()
	fmt.Printf("boxes %d, cells %d, entries %d, occupancy %.1f, cell %g m\n", st.Boxes, st.Cells, st.Entries, st.Occupancy, st.CellSize)
	// Output:
	// boxes 2, cells 1, entries 2, occupancy 2.0, cell 100 m
}
