package grid

import (
	"math/rand/v2"
	"testing"
)

// TestSetMoveDoesNotAllocate: the steady-state update, a box moving a little
// within its cells, allocates nothing.
func TestSetMoveDoesNotAllocate(t *testing.T) {
	g := mustNew(t, Config{})
	rng := rand.New(rand.NewPCG(1, 1))
	const n = 5000
	fill(g, nil, rng, n, Box{-20000, -20000, 0, 20000, 20000, 500}, 300, 600)
	boxes := make([]Box, n)
	copy(boxes, g.boxes)
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		id := uint32(i % n)
		b := boxes[id]
		d := float64(i%3) * 1e-3
		g.Set(id, Box{b.MinX + d, b.MinY + d, b.MinZ, b.MaxX + d, b.MaxY + d, b.MaxZ})
		i++
	})
	if allocs != 0 {
		t.Fatalf("Set (move within cells) allocates %v times per call, want 0", allocs)
	}
}

// TestSetCrossingCellsDoesNotAllocateWhenWarm: boxes moving back and forth
// across cell borders reuse emptied chunks and map slots.
func TestSetCrossingCellsDoesNotAllocateWhenWarm(t *testing.T) {
	g := mustNew(t, Config{})
	rng := rand.New(rand.NewPCG(2, 2))
	const n = 2000
	fill(g, nil, rng, n, Box{-20000, -20000, 0, 20000, 20000, 500}, 10, 90)
	a := make([]Box, n)
	copy(a, g.boxes)
	b := make([]Box, n)
	for id, x := range a {
		b[id] = Box{x.MinX + 150, x.MinY + 150, x.MinZ, x.MaxX + 150, x.MaxY + 150, x.MaxZ}
	}
	flip := func(round int) {
		src := a
		if round%2 == 1 {
			src = b
		}
		for id := range uint32(n) {
			g.Set(id, src[id])
		}
	}
	for r := range 6 { // warm: maps, arenas and free lists reach their size
		flip(r)
	}
	r := 0
	allocs := testing.AllocsPerRun(20, func() { flip(r); r++ })
	if allocs != 0 {
		t.Fatalf("a round of %d cell-crossing moves allocates %v times, want 0", n, allocs)
	}
}

// TestQueryAppendDoesNotAllocate: with capacity in dst, queries allocate
// nothing, including queries that walk a level's maps.
func TestQueryAppendDoesNotAllocate(t *testing.T) {
	g := mustNew(t, Config{})
	rng := rand.New(rand.NewPCG(3, 3))
	const n = 5000
	world := Box{-20000, -20000, 0, 20000, 20000, 500}
	fill(g, nil, rng, n, world, 300, 600)
	g.Set(0, Box{-1e300, -1e300, -1e300, 1e300, 1e300, 1e300}) // oversize
	dst := make([]uint32, 0, n)
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		id := uint32(i % n)
		dst = g.QueryAppend(dst[:0], g.boxes[id], id)
		i++
	})
	if allocs != 0 {
		t.Fatalf("QueryAppend allocates %v times per call, want 0", allocs)
	}
	allocs = testing.AllocsPerRun(20, func() {
		dst = g.QueryAppend(dst[:0], world, 0)
	})
	if allocs != 0 || len(dst) < n/2 {
		t.Fatalf("world query: %v allocs, %d hits", allocs, len(dst))
	}
}
