package engine

import "testing"

// TestSteadyStateAllocsPerUpdate: once every vehicle is known and the buffers
// have grown, an update costs no allocation: a tick allocates the same small
// constant (the `go` statements of its two parallel phases) whether it carries
// a hundred updates or thousands. The one exception is amortised: a box that
// moves into a cell the grid has never held inserts a map key, and the map
// grows now and then. Risk events allocate (ids, strings), so the traffic here
// stays clear of conflicts.
func TestSteadyStateAllocsPerUpdate(t *testing.T) {
	const n = 4000
	w := newTraffic("uniform", n, 7, 400_000) // 4,000 drones over 400 km: no conflicts
	cfg := Default()
	cfg.Workers = 2
	e, err := New(cfg, builtinModels())
	if err != nil {
		t.Fatal(err)
	}
	ups := make([]Update, 0, n)
	round := func(k int) {
		ups = ups[:0]
		for i := 0; i < k; i++ {
			w.step(i, 0.1)
			ups = append(ups, w.update(i))
		}
		if err := e.TrySubmit(ups); err != nil {
			t.Fatal(err)
		}
		e.Tick()
	}
	for i := 0; i < 20; i++ {
		round(n)
	}
	events := func() uint64 { s := e.Stats(); return s.Opened + s.Updated + s.Resolved }
	ev0 := events()
	small := testing.AllocsPerRun(20, func() { round(100) })
	large := testing.AllocsPerRun(20, func() { round(n) })
	t.Logf("allocations per tick: %.1f with 100 updates, %.1f with %d", small, large, n)
	if per := (large - small) / (n - 100); per > 0.001 {
		t.Fatalf("a tick of %d updates allocates %.1f more times than one of 100: %.4f allocations per update", n, large-small, per)
	}
	// Per tick: the phases' `go` statements (more when the runtime has no
	// free goroutine to reuse, as under load) and the grid's occasional map
	// growth. A handful, never a number that grows with the batch.
	if large > 16 {
		t.Fatalf("%.1f allocations per tick, want a handful", large)
	}
	if d := events() - ev0; d != 0 {
		t.Fatalf("%d risk events while measuring: the test world must stay clear of conflicts", d)
	}
}
