package grid

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// TestHammer runs the engine's phases with many goroutines: parallel Set and
// Delete of distinct ids, then parallel queries checked against the oracle,
// then Adjust. Run it with -race.
func TestHammer(t *testing.T) {
	const (
		n       = 20000
		workers = 16
		rounds  = 6
	)
	g := mustNew(t, Config{Shards: 8})
	g.Grow(n)
	o := newOracle(n)
	world := Box{-15000, -15000, 0, 15000, 15000, 2000}
	for round := range rounds {
		// Phase 1: each worker owns ids ≡ w (mod workers); it records what
		// it did in the oracle's slots for those ids, which are its own.
		var wg sync.WaitGroup
		stop := make(chan struct{})
		var statsDone sync.WaitGroup
		statsDone.Go(func() { // Stats may run beside Set and Delete
			for {
				select {
				case <-stop:
					return
				default:
					_ = g.Stats()
				}
			}
		})
		for w := range workers {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(round), uint64(w)))
				for id := uint32(w); id < n; id += workers {
					switch k := rng.IntN(10); {
					case k == 0:
						g.Delete(id)
						o.ok[id] = false
					case k < 5 && o.ok[id]: // small move
						b := o.boxes[id]
						d := rng.Float64()*40 - 20
						b = Box{b.MinX + d, b.MinY - d, b.MinZ, b.MaxX + d, b.MaxY - d, b.MaxZ}
						g.Set(id, b)
						o.boxes[id] = b
					default:
						var b Box
						if rng.IntN(4) == 0 {
							b = randomBox(rng, Box{0, 0, 0, 500, 500, 100}, 5, 60) // hotspot
						} else {
							b = randomBox(rng, world, 100, 700)
						}
						g.Set(id, b)
						o.boxes[id], o.ok[id] = b, true
					}
				}
			})
		}
		wg.Wait()
		close(stop)
		statsDone.Wait()
		if g.Len() != o.len() {
			t.Fatalf("round %d: Len %d, oracle %d", round, g.Len(), o.len())
		}
		// Phase 2: parallel queries, each checked against the oracle.
		errs := make(chan string, workers)
		for w := range workers {
			wg.Go(func() {
				var buf []uint32
				for id := uint32(w); id < n; id += workers * 31 {
					if !o.ok[id] {
						continue
					}
					buf = g.QueryAppend(buf[:0], o.boxes[id], id)
					slices.Sort(buf)
					if want := o.query(o.boxes[id], id); !slices.Equal(buf, want) {
						errs <- "query mismatch"
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Fatalf("round %d: %s", round, e)
		}
		_ = g.Stats()
		checkInvariants(t, g)
		// Phase 3.
		if round%2 == 0 {
			g.rebuild(math.Ldexp(25, round%5))
		} else {
			g.Adjust()
		}
	}
}
