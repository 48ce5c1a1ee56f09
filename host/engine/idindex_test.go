package engine

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestIDIndexAgainstMap drives the index and a Go map with the same random
// inserts and removals (the pattern of vehicles arriving and expiring, slots
// reused) and compares every lookup.
func TestIDIndexAgainstMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var x idIndex
	x.init()
	var names []string
	var free []uint32
	ref := map[string]uint32{}
	for step := 0; step < 200_000; step++ {
		id := "veh-" + strconv.Itoa(rng.IntN(5000))
		slot, ok := x.find(names, []byte(id))
		want, wok := ref[id]
		if ok != wok || (ok && slot != want) {
			t.Fatalf("step %d: find(%s) = %d,%v want %d,%v", step, id, slot, ok, want, wok)
		}
		switch {
		case !ok:
			if n := len(free); n > 0 {
				slot = free[n-1]
				free = free[:n-1]
				names[slot] = id
			} else {
				slot = uint32(len(names))
				names = append(names, id)
			}
			x.insert(names, slot)
			ref[id] = slot
		case rng.IntN(2) == 0:
			x.remove(names, id, slot)
			names[slot] = ""
			free = append(free, slot)
			delete(ref, id)
		}
		if x.len() != len(ref) {
			t.Fatalf("step %d: len %d want %d", step, x.len(), len(ref))
		}
	}
	for id, s := range ref {
		if got, ok := x.find(names, []byte(id)); !ok || got != s {
			t.Fatalf("final find(%s) = %d,%v want %d", id, got, ok, s)
		}
	}
}
