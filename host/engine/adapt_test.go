package engine

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/grid"
)

// TestGridAdaptsWithoutLosingPairs: sparse traffic grows the cells to
// grid.max_size, a dense cluster shrinks them towards grid.min_size, both
// within the bounds, while a second goroutine keeps submitting and every tick
// is checked against the all-pairs oracle (no candidate pair lost across a
// resize).
func TestGridAdaptsWithoutLosingPairs(t *testing.T) {
	cfg := Default()
	cfg.Workers = 2
	cfg.Horizon = 5
	cfg.MaxDistance = 60
	cfg.Grid = grid.Config{InitialSize: 100, MinSize: 10, MaxSize: 1000}
	c := newChecker(t, cfg)
	w := newTraffic("uniform", 300, 11, 60_000)
	for i := range w.v { // hovering drones: small swept boxes
		w.v[i].VX, w.v[i].VY, w.v[i].VZ, w.v[i].VRate = 0.5, 0, 0, 0
	}
	// Ingest keeps flowing from another goroutine through the resizes.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var side uint64
	wg.Add(1)
	go func() {
		defer wg.Done()
		id := []byte("side")
		for k := 0; ; k++ {
			select {
			case <-stop:
				return
			default:
			}
			v := drone(1e6, 0, 1_700_000_000+float64(k)*1e-4) // stays behind the traffic's clock
			if c.e.TrySubmit([]Update{{ID: id, V: v}}) == nil {
				side++
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()
	sizes := []float64{c.e.grid.CellSize()}
	run := func(ticks int, place func(i int)) {
		for k := 0; k < ticks; k++ {
			var ups []Update
			for i := range w.v {
				w.step(i, 1)
				place(i)
				ups = append(ups, w.update(i))
			}
			c.tick(ups)
			s := c.e.grid.CellSize()
			if s < cfg.Grid.MinSize || s > cfg.Grid.MaxSize {
				t.Fatalf("cell size %.1f outside [%v, %v]", s, cfg.Grid.MinSize, cfg.Grid.MaxSize)
			}
			if s != sizes[len(sizes)-1] {
				sizes = append(sizes, s)
			}
		}
	}
	run(15, func(int) {})
	sparse := c.e.grid.CellSize()
	// Everyone flies into a 150 m cluster.
	run(15, func(i int) {
		v := &w.v[i]
		a := float64(i) * 2.399963 // golden-angle spiral
		r := 150 * math.Sqrt(float64(i)/float64(len(w.v)))
		v.X, v.Y, v.Z = 30_000+r*math.Cos(a), 30_000+r*math.Sin(a), 100+float64(i%5)*3
		v.Alt = v.Z
	})
	dense := c.e.grid.CellSize()
	close(stop)
	wg.Wait()
	c.e.Tick()
	t.Logf("cell sizes %v; %d side updates accepted during the run", sizes, side)
	if sparse <= cfg.Grid.InitialSize {
		t.Fatalf("sparse traffic left the cells at %.0f m (initial %.0f): they should grow", sparse, cfg.Grid.InitialSize)
	}
	if dense >= sparse {
		t.Fatalf("a dense cluster left the cells at %.0f m (sparse %.0f): they should shrink", dense, sparse)
	}
	if st := c.e.Stats(); st.Accepted != st.Applied+st.Stale+st.Duplicates {
		t.Fatalf("accepted %d, applied %d + dropped %d: updates lost", st.Accepted, st.Applied, st.Stale+st.Duplicates)
	}
	if side == 0 {
		t.Fatal("the side goroutine could not submit during the run")
	}
}
